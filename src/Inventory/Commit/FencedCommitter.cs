using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;
using Pipeline.Contracts;

namespace Pipeline.Inventory.Commit;

/// <summary>
/// The one serialized writer of inventory, fenced by the leader's token. Each batch is one transaction of two round trips:
/// (1) BEGIN; the conditional fence UPDATE, which takes the fence row lock and holds it to COMMIT; the batch's earlier
/// decisions; its stock rows locked in SKU order; (2) every decision written (stock, ledger, order status) and COMMIT.
/// A token below one the fence has seen updates no row: the transaction rolls back, an audit row is written on its own,
/// and <see cref="StaleLeaderException"/> tells the caller to step down. Because every commit holds the fence row lock
/// until it commits, commits are totally ordered and ledger rows carry non-decreasing tokens in commit_seq order.
/// </summary>
public sealed partial class FencedCommitter
{
    private readonly NpgsqlDataSource dataSource;
    private readonly FencedCommitterOptions options;
    private readonly ILogger logger;
    private readonly CommitHooks hooks;

    public FencedCommitter(NpgsqlDataSource dataSource, FencedCommitterOptions? options = null, ILogger<FencedCommitter>? logger = null)
        : this(dataSource, options, logger, CommitHooks.None)
    {
    }

    /// <summary>A committer with fault-injection <paramref name="hooks"/>: for the test and benchmark hosts only.</summary>
    internal FencedCommitter(NpgsqlDataSource dataSource, FencedCommitterOptions? options, ILogger<FencedCommitter>? logger, CommitHooks hooks)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(hooks);
        this.dataSource = dataSource;
        this.options = options ?? new FencedCommitterOptions();
        this.options.Validate();
        this.logger = logger ?? NullLogger<FencedCommitter>.Instance;
        this.hooks = hooks;
    }

    /// <summary>Decides every order of the batch, all-or-nothing per order, in message order, in one fenced transaction.</summary>
    /// <exception cref="StaleLeaderException">The fence has seen a newer token; nothing was written but the audit row.</exception>
    public async Task<IReadOnlyList<OrderDecision>> CommitAsync(FenceToken token, string nodeId, IReadOnlyList<CommitInventory> batch, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeId);
        ArgumentNullException.ThrowIfNull(batch);
        if (await hooks.BeforeTransactionAsync(batch.Count, cancellationToken).ConfigureAwait(false))
        {
            cancellationToken = CancellationToken.None; // woken from a pause: nothing but the fence stands in the way now
        }

        var plan = CommitPlan.Create(batch);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        var committed = false;
        try
        {
            var (fenced, decided, stock, now) = await LockAsync(connection, hooks.PresentedToFence(token), nodeId, options.Resource, plan, cancellationToken).ConfigureAwait(false);
            if (!fenced)
            {
                await RollbackAsync(connection).ConfigureAwait(false);
                var current = await AuditRejectionAsync(token, nodeId, cancellationToken).ConfigureAwait(false);
                throw new StaleLeaderException(token, current, nodeId);
            }

            if (await hooks.InsideTransactionAsync(cancellationToken).ConfigureAwait(false))
            {
                cancellationToken = CancellationToken.None;
            }

            var decisions = plan.Decide(decided, stock, token, nodeId, now);
            await WriteAndCommitAsync(connection, token, nodeId, plan, decisions, stock, cancellationToken).ConfigureAwait(false);
            committed = true;
            return decisions;
        }
        finally
        {
            if (!committed)
            {
                await RollbackAsync(connection).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Runs the fence bump and the commit path once to no effect, for a standby before it can lead: its first steps as
    /// leader would otherwise pay for JIT compilation and Npgsql's first resolution of these parameter types, a few hundred
    /// milliseconds of a handover on a busy machine (measured in bench/run failover). Every round trip runs with the real
    /// statements and parameter types, but against a fence resource no row has and with nothing to look up or write, and
    /// the transaction rolls back: nothing is locked, read or written.
    /// </summary>
    public async Task WarmUpAsync(CancellationToken cancellationToken = default)
    {
        const string nothing = "\u0001warm-up";
        var token = new FenceToken(0, 0);
        var sample = CommitPlan.Create([new CommitInventory { OrderId = nothing, Lines = [new OrderLine { Sku = nothing, Quantity = 1 }] }]);
        _ = sample.Decide(new(StringComparer.Ordinal), new(StringComparer.Ordinal) { [nothing] = 1 }, token, nothing, DateTimeOffset.UtcNow);
        var bumped = await BumpFenceAsync(token, nothing, nothing, cancellationToken).ConfigureAwait(false);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);
        try
        {
            var (fenced, _, _, _) = await LockAsync(connection, token, nothing, nothing, CommitPlan.Create([]), cancellationToken).ConfigureAwait(false);
            if (bumped || fenced)
            {
                throw new InvalidOperationException("The warm-up's fence statement updated a row: a fence resource with its name exists.");
            }

            using var write = WriteBatch(connection, token, nothing, [], [], [], includeEmpty: true);
            await write.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await RollbackAsync(connection).ConfigureAwait(false);
        }
    }

    private static async Task<(bool Fenced, Dictionary<string, OrderDecision> Decided, Dictionary<string, int> Stock, DateTimeOffset Now)> LockAsync(
        NpgsqlConnection connection, FenceToken token, string nodeId, string resource, CommitPlan plan, CancellationToken cancellationToken)
    {
        using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
        var fence = new NpgsqlBatchCommand(Sql.FenceBump);
        AddFenceParameters(fence.Parameters, token, nodeId, resource);
        batch.BatchCommands.Add(fence);
        var decided = new NpgsqlBatchCommand(Sql.SelectDecided);
        decided.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = plan.OrderIds });
        batch.BatchCommands.Add(decided);
        var stock = new NpgsqlBatchCommand(Sql.LockStock);
        stock.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = plan.Skus });
        batch.BatchCommands.Add(stock);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT now()"));

        var earlier = new Dictionary<string, OrderDecision>(StringComparer.Ordinal);
        var onHand = new Dictionary<string, int>(StringComparer.Ordinal);
        var now = DateTimeOffset.UtcNow;
        var fenced = false;
        var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            do
            {
                if (reader.FieldCount == 0)
                {
                    continue;
                }

                switch (reader.GetName(0))
                {
                    case "fenced":
                        fenced = await reader.ReadAsync(cancellationToken).ConfigureAwait(false) && reader.GetBoolean(0);
                        break;
                    case "order_id":
                        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                        {
                            var id = reader.GetString(0);
                            earlier[id] = new OrderDecision
                            {
                                OrderId = id,
                                Confirmed = reader.GetString(1) == Model.OrderStatus.Confirmed,
                                Reason = reader.IsDBNull(2) ? null : Enum.Parse<RejectionReason>(reader.GetString(2)),
                                Detail = reader.IsDBNull(3) ? null : reader.GetString(3),
                                Token = new FenceToken(reader.GetInt64(4), reader.GetInt64(5)),
                                NodeId = reader.GetString(6),
                                CommittedAt = reader.GetFieldValue<DateTimeOffset>(7),
                                AlreadyDecided = true,
                            };
                        }

                        break;
                    case "sku":
                        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                        {
                            onHand[reader.GetString(0)] = reader.GetInt32(1);
                        }

                        break;
                    default:
                        if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                        {
                            now = reader.GetFieldValue<DateTimeOffset>(0);
                        }

                        break;
                }
            }
            while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));
        }

        return (fenced, earlier, onHand, now);
    }

    private static async Task WriteAndCommitAsync(NpgsqlConnection connection, FenceToken token, string nodeId, CommitPlan plan,
        IReadOnlyList<OrderDecision> decisions, Dictionary<string, int> stock, CancellationToken cancellationToken)
    {
        var fresh = decisions.Where(d => !d.AlreadyDecided && d.Recorded).ToList();
        string[] changed = [.. plan.ChangedSkus];
        using var batch = WriteBatch(connection, token, nodeId, changed, [.. changed.Select(s => stock[s])], fresh, includeEmpty: false);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The second round trip's statements: stock, ledger and order status; a statement with nothing to write is
    /// left out unless <paramref name="includeEmpty"/> (the warm-up, which runs every statement with empty arrays).</summary>
    private static NpgsqlBatch WriteBatch(NpgsqlConnection connection, FenceToken token, string nodeId, string[] changedSkus, int[] onHand,
        List<OrderDecision> fresh, bool includeEmpty)
    {
        var batch = new NpgsqlBatch(connection);
        if (changedSkus.Length > 0 || includeEmpty)
        {
            var update = new NpgsqlBatchCommand(Sql.UpdateStock);
            update.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = changedSkus });
            update.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = onHand });
            batch.BatchCommands.Add(update);
        }

        if (fresh.Count > 0 || includeEmpty)
        {
            var ids = fresh.Select(d => d.OrderId).ToArray();
            var outcomes = fresh.Select(d => d.Confirmed ? Model.OrderStatus.Confirmed : Model.OrderStatus.Rejected).ToArray();
            var reasons = fresh.Select(d => d.Reason?.ToString()).ToArray();
            var details = fresh.Select(d => d.Detail).ToArray();

            var ledger = new NpgsqlBatchCommand(Sql.InsertLedger);
            ledger.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids });
            ledger.Parameters.Add(new NpgsqlParameter<long> { TypedValue = token.Generation });
            ledger.Parameters.Add(new NpgsqlParameter<long> { TypedValue = token.Sequence });
            ledger.Parameters.Add(new NpgsqlParameter<string> { TypedValue = nodeId });
            ledger.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = outcomes });
            ledger.Parameters.Add(new NpgsqlParameter { Value = reasons, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            ledger.Parameters.Add(new NpgsqlParameter { Value = details, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            batch.BatchCommands.Add(ledger);

            var orders = new NpgsqlBatchCommand(Sql.UpdateOrders);
            orders.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids });
            orders.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = outcomes });
            orders.Parameters.Add(new NpgsqlParameter { Value = reasons, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            orders.Parameters.Add(new NpgsqlParameter { Value = details, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            batch.BatchCommands.Add(orders);
        }

        return batch;
    }

    private void AddFenceParameters(NpgsqlParameterCollection parameters, FenceToken token, string nodeId) =>
        AddFenceParameters(parameters, token, nodeId, options.Resource);

    private static void AddFenceParameters(NpgsqlParameterCollection parameters, FenceToken token, string nodeId, string resource)
    {
        parameters.Add(new NpgsqlParameter<long> { TypedValue = token.Generation });
        parameters.Add(new NpgsqlParameter<long> { TypedValue = token.Sequence });
        parameters.Add(new NpgsqlParameter<string> { TypedValue = nodeId });
        parameters.Add(new NpgsqlParameter<string> { TypedValue = resource });
    }

    private static async Task RollbackAsync(NpgsqlConnection connection)
    {
        if (connection.FullState != System.Data.ConnectionState.Open)
        {
            return;
        }

        try
        {
            using var rollback = new NpgsqlCommand("ROLLBACK", connection);
            await rollback.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
        {
            // A broken connection has no transaction left to roll back; the pool discards it.
        }
    }
}
