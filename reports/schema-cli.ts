// `node dist/reports/schema-cli.js [FILE]`: (re)writes the JSON Schema of report.json
// (default reports/schema/report.schema.json). A test checks the committed file is current.
import { writeFileSync } from 'node:fs';
import { reportJsonSchema } from './report-schema.js';

export function reportSchemaText(): string {
  return `${JSON.stringify(reportJsonSchema(), null, 2)}\n`;
}

if (process.argv[1]?.endsWith('schema-cli.js')) {
  const file = process.argv[2] ?? 'reports/schema/report.schema.json';
  writeFileSync(file, reportSchemaText());
  process.stdout.write(`wrote ${file}\n`);
}
