// The baseline: Fastify with no plugins, no logger, one route answering 204 on the same path as
// Vigil's heartbeat. Whatever Vigil costs on top of this is Vigil's (auth, store, lifecycle, metrics).
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/v1/heartbeat', async (_request, reply) => reply.code(204).send());
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
const { port } = app.server.address();
process.stderr.write(`bare fastify listening on http://127.0.0.1:${port}/ \n`);
const stop = () => app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
