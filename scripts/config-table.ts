/** Prints the README's configuration table from the code's list of variables: `npx tsx scripts/config-table.ts`. */
import { CONFIG_VARIABLES } from '../src/config/config.schema';

const cell = (value: string) => (value.startsWith('(') ? value : `\`${value}\``);
process.stdout.write('| variable | default | meaning |\n|---|---|---|\n');
for (const v of CONFIG_VARIABLES) {
  const secret = v.secret ? ` Can be read from a file named by \`${v.name}_FILE\`.` : '';
  process.stdout.write(`| \`${v.name}\` | ${cell(v.default)} | ${v.meaning}${secret} |\n`);
}
