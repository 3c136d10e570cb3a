// standardwebhooks' declarations name Node's Buffer; this client compiles
// without @types/node (it runs in browsers too), so Buffer is declared here
// as what it is, a Uint8Array. Not emitted: the published declarations never
// mention standardwebhooks.
interface Buffer extends Uint8Array {}
