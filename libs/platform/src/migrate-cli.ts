import { loadConfig, BaseConfig } from './config.js';
import { migrate } from './migrate.js';
import { redactText } from './redact.js';

async function main(): Promise<void> {
  const config = loadConfig(BaseConfig.pick({ DATABASE_URL: true }));
  const report = await migrate(config.DATABASE_URL, process.env.MIGRATIONS_DIR);
  console.log(
    `control plane ${report.database}: applied ${report.applied.length} (${report.applied.join(', ') || 'none'}), ` +
      `${report.alreadyApplied.length} already applied`,
  );
}

main().catch((error: unknown) => {
  console.error(redactText(error instanceof Error ? error.message : String(error)));
  process.exit(1);
});
