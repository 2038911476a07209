import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type ErrorDetail, resolveConfig, ValidationError, type VigilConfig } from '@vigil/core';
import { CliError } from './io.js';

/**
 * Reads a config file as JSON. A missing file, a directory or broken JSON each get a message that
 * says which file and, for JSON, where (line and column), instead of a stack trace.
 */
export async function readConfigFile(path: string, cwd = process.cwd()): Promise<unknown> {
  const full = resolve(cwd, path);
  let text: string;
  try {
    text = await readFile(full, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory, not a file'
          : code === 'EACCES'
            ? 'permission denied'
            : (error as Error).message;
    throw new CliError(`cannot read config file ${path}: ${why}`);
  }
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new CliError(`config file ${path} is not valid JSON: ${describeJsonError(error as Error, text)}`);
  }
}

/** Node's JSON errors give a character position (or nothing); people want a line and a column. */
function describeJsonError(error: Error, text: string): string {
  // "… in JSON at position 5", "… after JSON at position 8": the position becomes a line and column.
  const message = error.message.replace(/\s+(in JSON )?at position \d+.*$/s, '');
  const position = /position (\d+)/.exec(error.message)?.[1];
  if (position === undefined) {
    return text.trim() === '' ? 'the file is empty' : message;
  }
  const before = text.slice(0, Number(position));
  const line = before.split('\n').length;
  const column = Number(position) - before.lastIndexOf('\n');
  return `${message.replace(/\s*\(line \d+ column \d+\)$/, '')} at line ${line}, column ${column}`;
}

/** Thrown by `loadConfig` when the file is readable JSON but not a valid config. */
export class ConfigProblems extends CliError {
  readonly details: ErrorDetail[];
  readonly path: string;

  constructor(path: string, details: ErrorDetail[]) {
    super(formatProblems(path, details));
    this.name = 'ConfigProblems';
    this.path = path;
    this.details = details;
  }
}

/** One problem per line: where, what is wrong, and the rule's stable name for searching docs. */
export function formatProblems(path: string, details: ErrorDetail[]): string {
  const count = details.length === 1 ? '1 problem' : `${details.length} problems`;
  const lines = details.map((d) => `  ${d.field}: ${d.message} [${d.rule}]`);
  return `${path}: ${count}\n${lines.join('\n')}`;
}

/** Reads and validates a config file; without a path, the built-in defaults. */
export async function loadConfig(path: string | undefined, cwd = process.cwd()): Promise<VigilConfig> {
  const input = path === undefined ? {} : await readConfigFile(path, cwd);
  try {
    return resolveConfig(input);
  } catch (error) {
    if (error instanceof ValidationError) throw new ConfigProblems(path ?? '(defaults)', error.details);
    throw error;
  }
}
