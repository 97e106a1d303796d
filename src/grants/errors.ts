/**
 * A lifecycle operation refused, with nothing changed. Each surface turns it into its own error:
 * 409 or 400 in the admin API, a page in the console, a message at the CLI.
 */
export class LifecycleError extends Error {
  override name = 'LifecycleError';
  constructor(
    /**
     * last_admin: it would leave no enabled admin; self: an admin acting on their own account;
     * invalid_domain; invalid_service_client: a service client's name, servers, scopes or key were
     * refused; invalid_policy: an agent policy's agent, servers or scopes were refused;
     * invalid_group: a group's name or description was refused;
     * exists / missing: the user, factor or passkey already exists / does not yet.
     */
    readonly reason:
      | 'last_admin'
      | 'self'
      | 'invalid_domain'
      | 'invalid_service_client'
      | 'invalid_policy'
      | 'invalid_group'
      | 'exists'
      | 'missing',
    message: string,
  ) {
    super(message);
  }
}
