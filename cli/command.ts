/**
 * The shape of one `agent-store` command: its name, help and options, and what it does. Commands
 * return a result; `main` prints it as JSON (`--json`) or as the command's text.
 */
import type { WarningSink } from './database.js';

/** One option of a command (parsed by `node:util` `parseArgs`). */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** The value's name in the help, e.g. `<ms>`. */
  readonly arg?: string;
  readonly help: string;
}

/** What a command gets to run. */
export interface CommandContext {
  /** The positional arguments after the command name. */
  readonly args: readonly string[];
  /** The options given (strings or booleans, arrays for `multiple`). */
  readonly options: Readonly<Record<string, string | boolean | string[] | undefined>>;
  /** `--json`: print one JSON document on stdout, nothing else there. */
  readonly json: boolean;
  /** Prints a line of human output on stdout (not in `--json` mode). */
  readonly say: (line: string) => void;
  /** Prints a line on stderr (notes and warnings: never part of the result). */
  readonly note: (line: string) => void;
  /** Collects the store's warnings and prints them on stderr. */
  readonly onWarning: WarningSink;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  /** Ends when the user presses Ctrl-C (long-running commands stop cleanly). */
  readonly interrupted: AbortSignal;
}

/** What a command returns: the JSON result and, for people, its text (omitted: nothing more to print). */
export interface CommandResult {
  readonly json: unknown;
  readonly text?: string;
  /** The exit code when it is not 0 (`check` with problems). */
  readonly exitCode?: number;
}

/** One command. */
export interface Command {
  readonly name: string;
  /** `<db> [--status <status>]`: what follows the name in the usage line. */
  readonly usage: string;
  /** One line for the command list. */
  readonly summary: string;
  /** More help (examples, what the output holds). */
  readonly details?: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** The number of positional arguments, at least and at most. */
  readonly positionals: readonly [min: number, max: number];
  run(ctx: CommandContext): Promise<CommandResult>;
}
