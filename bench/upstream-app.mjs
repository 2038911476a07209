// The application behind nginx in the forward-auth rows: answers every request 200 with a small
// JSON body naming the subject nginx passed on (as an app behind Vigil would read it).
import { createServer } from 'node:http';

const server = createServer((request, response) => {
  const body = JSON.stringify({ subject: request.headers['x-vigil-subject'] ?? null });
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stderr.write(`upstream app listening on http://127.0.0.1:${server.address().port}/ \n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
