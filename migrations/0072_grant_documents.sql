-- Pinned agent documents (src/provider/document_pins.ts): for each grant to a metadata-document
-- agent, the document the user consented to: its digest, and the parts whose change asks the user
-- again (the name and the redirect hosts).
CREATE TABLE grant_documents (
  grant_id       TEXT PRIMARY KEY,
  client_id      TEXT NOT NULL,
  digest         TEXT NOT NULL,
  client_name    TEXT,
  redirect_hosts TEXT NOT NULL,
  recorded_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX grant_documents_client ON grant_documents (client_id);
