import 'reflect-metadata';
import { ConfigError, loadConfig, type AppConfig } from './config/config.js';

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const { createApp, stopApp } = await import('./app.factory.js');
  const { preflight } = await import('./preflight.js');
  try {
    await preflight(config);
  } catch (err) {
    process.stderr.write(
      `${err instanceof ConfigError ? err.message : String((err as Error)?.message ?? err)}\n`,
    );
    process.exit(1);
  }
  const app = await createApp({ config });
  await app.listen(config.port, config.host ?? '0.0.0.0');
  process.stdout.write(
    JSON.stringify({
      level: 30,
      time: Date.now(),
      msg: `White Cross Realtime listening on port ${config.port}`,
      port: config.port,
    }) + '\n',
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(1), config.shutdownGraceMs + 5000);
    force.unref();
    stopApp(app, Math.max(1000, Math.floor(config.shutdownGraceMs / 2))).then(
      () => process.exit(0),
      () => process.exit(1),
    );
    void signal;
  };
  // Last line of defence: a library promise rejected with nobody listening (e.g. a Redis command
  // during an outage) is logged by name and the node keeps serving; it must never end the process.
  process.on('unhandledRejection', (reason: unknown) => {
    const e = reason as Error | undefined;
    process.stdout.write(
      JSON.stringify({
        level: 50,
        time: Date.now(),
        msg: 'unhandled rejection',
        errorName: e?.name ?? typeof reason,
      }) + '\n',
    );
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  const e = err as Error;
  process.stderr.write(`Failed to start: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}\n`);
  process.exit(1);
});
