// node-oidc-provider (v9) for examples/peer-bench/run.sh: one confidential client allowed
// client_credentials, introspection on, the default in-memory adapter, plain HTTP on 127.0.0.1.
// run.sh copies this file next to the node_modules it installs and sets the environment:
//   PEER_PORT, PEER_CLIENT_ID, PEER_CLIENT_SECRET.
import Provider from 'oidc-provider';

const port = Number(process.env.PEER_PORT ?? '3000');
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: process.env.PEER_CLIENT_ID,
      client_secret: process.env.PEER_CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
  },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`node-oidc-provider listening on http://127.0.0.1:${port}`);
});
