/** A configuration problem: names each variable and what is wrong with it. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';

  constructor(readonly problems: readonly { variable: string; message: string }[]) {
    super('invalid configuration:\n' + problems.map((problem) => `  ${problem.variable}: ${problem.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}
