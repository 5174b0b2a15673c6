import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';

/**
 * A kysely plugin that watches the real queries (`db.withPlugin(recorder)`): which tables each one
 * names and how many rows came back to the app. Lets a test prove how much a page reads.
 */
export class QueryRecorder implements KyselyPlugin {
  queries: string[] = [];
  rows = 0;

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.queries.push(JSON.stringify(args.node));
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    this.rows += args.result.rows.length;
    return Promise.resolve(args.result);
  }

  reset(): void {
    this.queries = [];
    this.rows = 0;
  }

  /** Whether any query since the last reset named this table. */
  touched(table: string): boolean {
    return this.queries.some((q) => q.includes(`"name":"${table}"`));
  }
}
