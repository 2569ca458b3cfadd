/**
 * cluster-node entry point: `cluster-node [config-file] [--name value ...]`, like redis-server.
 */
import { Config, ConfigError } from './server/config';
import { Server } from './server/server';
import { REDIS_VERSION, VERSION } from './version';
import { Cluster } from './cluster/cluster';
import { loadLua } from './scripting/lua';

export async function main(argv: string[]): Promise<Server> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('Usage: cluster-node [/path/to/redis.conf] [--port 7000] [--bind 127.0.0.1] [--dir ./data] [--<directive> value ...]\n');
    process.exit(0);
  }
  if (argv.includes('--version') || argv.includes('-v')) {
    process.stdout.write(`cluster-node v=${VERSION} (redis-compatible ${REDIS_VERSION})\n`);
    process.exit(0);
  }
  let config: Config;
  try {
    config = Config.fromArgs(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`\n*** FATAL CONFIG FILE ERROR ***\n${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  await loadLua();
  const server = new Server(config);
  await server.listen();
  if (config.bool('cluster-enabled')) {
    const cluster = new Cluster(server);
    server.clusterNode = cluster;
    cluster.replication = server.replication;
    await cluster.start();
  }
  const stop = (sig: string) => {
    server.log.warning(`Received ${sig}, shutting down.`);
    server.clusterNode?.stop();
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return server;
}


if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`Fatal: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
