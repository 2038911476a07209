/**
 * Where a command writes and what it reads from its surroundings. Commands take this instead of
 * touching `process` so that tests can run them in-process and read what they printed.
 */
export interface Io {
  /** Machine output: JSON logs of `serve`, results of commands. */
  stdout: (text: string) => void;
  /** Messages for the person at the terminal: problems, the listening URL, a generated key. */
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  cwd: string;
}

export const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
};

/** A problem the user can fix, shown as its message alone (no stack) with this exit code. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
