import { CliError, type CliContext, type RegisterCommands } from '../../src/command/context.js';
import { startAndAnnounce } from './bounce-intake.js';

// README, "Command line": `newsletter bounces listen`, the bounce receiver without the web server.

function signalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

export const registerBounceCommands: RegisterCommands = (program, ctx: CliContext) => {
  const bounces = program.command('bounces').description('bounces, complaints and provider events');
  bounces
    .command('listen')
    .description('run the bounce receiver (BOUNCE_SMTP_PORT) and mailbox poller (BOUNCE_IMAP_URL) alone')
    .action(async () => {
      const config = ctx.config();
      if (config.bounces.smtpPort === undefined && !config.bounces.imapUrl) {
        throw new CliError(
          'Nothing to listen on: set BOUNCE_DOMAIN and BOUNCE_SMTP_PORT for the SMTP receiver, or BOUNCE_IMAP_URL for a bounce mailbox',
        );
      }
      const services = await ctx.services();
      const intake = await startAndAnnounce(services, ctx.stdout);
      await signalled();
      await intake.stop();
    });
};
