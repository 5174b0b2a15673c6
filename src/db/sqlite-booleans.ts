import {
  OperationNodeTransformer,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type PrimitiveValueListNode,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
  type ValueNode,
} from 'kysely';

/** true/false parameters as 1/0: better-sqlite3 binds numbers, strings, bigints, buffers and null only. */
class BooleanParameters extends OperationNodeTransformer {
  protected override transformValue(node: ValueNode): ValueNode {
    return typeof node.value === 'boolean' ? { ...node, value: node.value ? 1 : 0 } : node;
  }

  protected override transformPrimitiveValueList(node: PrimitiveValueListNode): PrimitiveValueListNode {
    return node.values.some((v) => typeof v === 'boolean')
      ? { ...node, values: node.values.map((v) => (typeof v === 'boolean' ? Number(v) : v)) }
      : node;
  }
}

/**
 * Booleans on SQLite, which stores them as 0 and 1: parameters go in as 1/0, and the columns named
 * in `columns` (the schema's boolean columns, `BOOLEAN_COLUMNS`) come back as true/false, as
 * PostgreSQL's driver returns them. A boolean column is read under its own name (the schema
 * generator refuses a boolean column whose name another column uses with another type).
 */
export class SqliteBooleansPlugin implements KyselyPlugin {
  private readonly parameters = new BooleanParameters();
  private readonly columns: ReadonlySet<string>;

  constructor(columns: readonly string[]) {
    this.columns = new Set(columns);
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.parameters.transformNode(args.node);
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const { result } = args;
    for (const row of result.rows) {
      for (const key of Object.keys(row)) {
        const value = row[key];
        if ((value === 0 || value === 1) && this.columns.has(key)) row[key] = value === 1;
      }
    }
    return Promise.resolve(result);
  }
}
