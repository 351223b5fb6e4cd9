// janode imports `createSocket` from unix-dgram for its Unix-socket transport. The
// WebSocket-only test never calls it; if something does, it fails loudly.
export function createSocket() {
  throw new Error('unix-dgram is stubbed in the Portunus janode test (WebSocket only)');
}
