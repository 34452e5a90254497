-- Web sessions (issue 17): the browser's sign-in is a session of the same family as the API's
-- (`auth_session`), so logout, password change, disable, role change and every other
-- revocation that ends a session ends the browser's too, through the same rows and the same
-- revocation epoch (0007).
--
-- A web session has no refresh tokens. The browser holds `<session id>.<secret>` in an HttpOnly
-- cookie; only the secret's SHA-256 is stored (as for refresh tokens), so a copy of the table
-- opens no session. `last_seen_at` carries the idle timeout (automatic logoff): a session not
-- used for `SessionService.webIdleTimeout` is refused as if it had ended. It is written at most
-- once a minute per session, and its trigger-free column keeps the epoch still.
ALTER TABLE auth_session ADD COLUMN web_secret_hash text;
ALTER TABLE auth_session ADD COLUMN last_seen_at timestamptz;
