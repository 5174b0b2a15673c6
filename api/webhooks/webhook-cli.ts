import { CliError, type RegisterCommands } from '../../src/command/context.js';
import { OUTBOX_EVENT_TYPES } from '../../src/db/event-outbox.js';
import { createEndpoint, EndpointInputError, parseEventList } from './webhook-endpoints.js';
import { startWebhookRelay } from './webhook-relay.js';
import { deleteEndpoint, deliveryCounts, listEndpoints } from './webhook-repository.js';

// newsletter webhooks add --url U --events a,b [--description D] | list | remove <id> | run

function signalled(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

export const registerWebhookCommands: RegisterCommands = (program, ctx) => {
  const webhooks = program.command('webhooks').description('outgoing webhooks: endpoints that hear of events');

  webhooks
    .command('add')
    .requiredOption('--url <url>', 'the address that receives the events (https://…)')
    .requiredOption('--events <list>', `comma-separated: ${OUTBOX_EVENT_TYPES.join(', ')}`)
    .option('--description <text>', 'what the endpoint is for', '')
    .description('register an endpoint; its signing secret is printed once')
    .action(async (options: { url: string; events: string; description: string }) => {
      try {
        const events = parseEventList(options.events);
        const services = await ctx.services();
        const endpoint = await createEndpoint(services.db, services.config.secretKey, {
          ...options,
          events,
          createdBy: 'cli',
        });
        ctx.stdout.write(`${endpoint.secret}\n`);
        ctx.stderr.write(
          `Added webhook ${endpoint.id} for ${endpoint.events.join(', ')} to ${endpoint.url}. ` +
            'The line above is its signing secret: copy it now, it is not shown again.\n',
        );
      } catch (error) {
        if (error instanceof EndpointInputError) throw new CliError(`--${error.field}: ${error.message}`);
        throw error;
      }
    });

  webhooks
    .command('list')
    .description('every endpoint: id, address, events, deliveries delivered / waiting / given up')
    .action(async () => {
      const services = await ctx.services();
      const endpoints = await listEndpoints(services.db);
      if (endpoints.length === 0) {
        ctx.stdout.write('No webhooks. Add one with: newsletter webhooks add --url <address> --events <list>\n');
        return;
      }
      ctx.stdout.write('id\turl\tevents\tdelivered\twaiting\tgiven up\n');
      for (const e of endpoints) {
        const counts = await deliveryCounts(services.db, e.id);
        ctx.stdout.write(
          [e.id, e.url, e.events.join(','), counts.delivered, counts.pending, counts.failed].join('\t') + '\n',
        );
      }
    });

  webhooks
    .command('remove')
    .argument('<id>', 'the endpoint id shown by `webhooks list`')
    .description('remove an endpoint and its queued deliveries')
    .action(async (id: string) => {
      if (!/^\d{1,12}$/.test(id))
        throw new CliError(`"${id}" is not a webhook id; \`newsletter webhooks list\` shows them`);
      const services = await ctx.services();
      if (!(await deleteEndpoint(services.db, Number(id)))) {
        throw new CliError(`No webhook ${id}; \`newsletter webhooks list\` shows them`);
      }
      ctx.stdout.write(`Removed webhook ${id}\n`);
    });

  webhooks
    .command('run')
    .description('deliver webhook events without the web server (`serve` delivers them too)')
    .action(async () => {
      const services = await ctx.services();
      const relay = startWebhookRelay(services);
      ctx.stdout.write('Delivering webhook events\n');
      await signalled();
      await relay.stop();
    });
};
