// SPDX-License-Identifier: MIT
// A Redis Cluster (3 primaries, 3 replicas) on loopback for a whole suite run: started by
// tests/run.sh before the server and token suites run on it (LATCHKEY_TEST_STORE=
// redis+cluster://.../{ns}, a namespace per store), stopped when this process gets
// SIGTERM or its stdin closes. Prints the cluster's URL (without a namespace) on stdout
// once the cluster is ok; every node is a child of this process, killed by PID at exit.
import { startRedisCluster } from '../server/lib.mjs';

const c = await startRedisCluster({ primaries: 3, replicas: 1 });
process.stdout.write(`${c.url()}\n`);
let stopping = false;
const stop = async () => {
	if (stopping) return;
	stopping = true;
	await c.stop();
	process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
