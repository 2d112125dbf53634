import type { Progress, ScenarioResult } from '../lib/report.js';

export interface BenchContext {
  smoke: boolean;
  secret: string;
  /** Short id unique to this invocation: user, org and Redis names are built from it. */
  runId: string;
  progress: Progress;
  hasPostgres: boolean;
  hasRedis: boolean;
  /** Write V8 CPU profiles of our server into this directory (`--profile`). */
  cpuProfDir?: string;
  /** Profile the bare baseline too (`--profile=all`), to compare where each spends its time. */
  profileBare?: boolean;
  /** Loader processes for the chat scenarios. */
  chatLoaders: number;
  /** Overrides from the command line (--connections=N, --alert-sockets=N, --alert-users=N). */
  overrides: {
    connections?: number;
    alertSockets?: number;
    alertUsers?: number;
    /** Scenario 6's storm size (`--storm-sockets=N`). */
    stormSockets?: number;
    bareOnly?: boolean;
    /** Scenario 2's send rates (`--rates=1000,2000`). */
    rates?: number[];
  };
  log(line: string): void;
}

export interface Scenario {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<ScenarioResult>;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
