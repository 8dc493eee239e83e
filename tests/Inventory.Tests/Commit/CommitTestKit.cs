using Npgsql;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Intake;
using Pipeline.Testing;

namespace Pipeline.Inventory.Tests.Commit;

/// <summary>Orders, seeding and database reads for the commit tests.</summary>
internal static class CommitTestKit
{
    public static CommitInventory Order(string id, params (string Sku, int Quantity)[] lines) =>
        new() { OrderId = id, Lines = [.. lines.Select(l => new OrderLine { Sku = l.Sku, Quantity = l.Quantity })] };

    /// <summary>Records the orders at intake first, as the pipeline does, so their status can be checked.</summary>
    public static async Task ReceiveAsync(InventoryDatabaseFixture db, params CommitInventory[] orders)
    {
        var store = new OrderIntakeStore(db.DataSource);
        foreach (var order in orders)
        {
            var submitted = new OrderSubmitted { OrderId = order.OrderId, CustomerId = "c", Lines = order.Lines, SubmittedAt = DateTimeOffset.UtcNow };
            var (lines, problem) = OrderValidation.Validate(order.OrderId, order.Lines);
            await store.RecordReceivedAsync(submitted, lines ?? order.Lines, "intake");
        }
    }

    /// <summary>A committer on a fence row of its own, so tests sharing a database do not fence each other off.</summary>
    public static async Task<FencedCommitter> CommitterAsync(InventoryDatabaseFixture db, FencedCommitterOptions? options = null, Npgsql.NpgsqlDataSource? dataSource = null)
    {
        options ??= new FencedCommitterOptions();
        options.Resource = await db.NewFenceAsync();
        return new FencedCommitter(dataSource ?? db.DataSource, options);
    }

    /// <summary>A fence row of its own (token 0:0) that several committers can share.</summary>
    public static Task<string> NewFenceAsync(InventoryDatabaseFixture db) => db.NewFenceAsync();

    /// <summary>A commit-path data source whose connections carry <paramref name="applicationName"/>, so pg_stat_activity can find them.</summary>
    public static NpgsqlDataSource NamedDataSource(InventoryDatabaseFixture db, FencedCommitterOptions options, string applicationName) =>
        InventoryDataSource.Create(new NpgsqlConnectionStringBuilder(db.ConnectionString) { ApplicationName = applicationName }.ConnectionString, options);

    /// <summary>The token the fence row holds and its holder.</summary>
    public static async Task<(FenceToken Token, string Holder)> FenceAsync(InventoryDatabaseFixture db, string resource)
    {
        await using var connection = await db.DataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT generation, sequence, holder FROM leader_fence WHERE resource = $1", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = resource });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"no fence row {resource}");
        return (new FenceToken(reader.GetInt64(0), reader.GetInt64(1)), reader.GetString(2));
    }

    /// <summary>Records many orders at intake, several at a time, as the replicas do.</summary>
    public static async Task ReceiveManyAsync(InventoryDatabaseFixture db, IReadOnlyList<CommitInventory> orders, int parallelism = 8)
    {
        var store = new OrderIntakeStore(db.DataSource);
        await Parallel.ForEachAsync(orders, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (order, cancellationToken) =>
        {
            var submitted = new OrderSubmitted { OrderId = order.OrderId, CustomerId = "c", Lines = order.Lines, SubmittedAt = DateTimeOffset.UtcNow };
            var (lines, _) = OrderValidation.Validate(order.OrderId, order.Lines);
            var result = await store.RecordReceivedAsync(submitted, lines ?? order.Lines, "intake", cancellationToken);
            Assert.Equal(ReceiveOutcome.Recorded, result.Outcome);
        });
    }

    public static async Task ExecuteAsync(InventoryDatabaseFixture db, string sql)
    {
        await using var connection = await db.DataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public static Task SeedAsync(InventoryDatabaseFixture db, int quantity, params string[] skus) => InventoryDatabase.SeedStockAsync(db.DataSource, skus, quantity);

    public static async Task<T?> ScalarAsync<T>(InventoryDatabaseFixture db, string sql)
    {
        await using var connection = await db.DataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? default : (T)value;
    }

    public static Task<int?> OnHandAsync(InventoryDatabaseFixture db, string sku) => ScalarAsync<int?>(db, $"SELECT on_hand FROM stock WHERE sku = '{sku}'");

    public static async Task<long> CountAsync(InventoryDatabaseFixture db, string table, string where = "true") =>
        await ScalarAsync<long>(db, $"SELECT count(*) FROM {table} WHERE {where}");
}
