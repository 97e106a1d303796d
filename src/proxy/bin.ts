#!/usr/bin/env node
// The `mcp-oauth-proxy` command: the same as `mcp-oauth proxy`.
import { runProxy } from './main.js';

process.exitCode = await runProxy(process.env);
