// Entry point of `npm start` (bundled by bin/build-server.js): the server, with nothing else.
import { runServer } from './run.ts';

runServer();
