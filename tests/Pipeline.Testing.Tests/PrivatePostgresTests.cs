using System.Diagnostics;
using Npgsql;
using Pipeline.Contracts;
using Pipeline.Inventory;
using Pipeline.Inventory.Commit;
using Xunit.Abstractions;

namespace Pipeline.Testing.Tests;

/// <summary>
/// The private PostgreSQL server of the fault suite: it holds a migrated inventory database, keeps committed data across
/// every kind of restart, and the commit path's data source works again once it is back. The shared server is never touched.
/// </summary>
public sealed class PrivatePostgresTests(PrivatePostgres server, ITestOutputHelper output) : IClassFixture<PrivatePostgres>, IAsyncLifetime
{
    private static readonly FenceToken Token = new(1, 1);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private InventoryDatabaseFixture db = null!;

    public async Task InitializeAsync()
    {
        // A test that failed half-way may have left the shared fixture's server down.
        if (!server.IsRunning)
        {
            await server.StartAsync();
        }

        db = new InventoryDatabaseFixture { ServerConnectionString = server.ConnectionString };
        await db.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        // The database is dropped on the server, so a test that failed while it was down starts it again first.
        if (!server.IsRunning)
        {
            await server.StartAsync();
        }

        await db.DisposeAsync();
    }

    [Fact]
    public async Task A_private_server_holds_a_migrated_inventory_database_on_its_own_port()
    {
        var shared = new NpgsqlConnectionStringBuilder((await TestServices.GetAsync()).Postgres);
        Assert.NotEqual(shared.Port, server.Port);

        await using var connection = await db.OpenConnectionAsync();
        Assert.Equal((server.Port, db.Name), (new NpgsqlConnectionStringBuilder(db.ConnectionString).Port, connection.Database));
        await using var command = new NpgsqlCommand("SELECT to_regclass('stock') IS NOT NULL AND to_regclass('leader_fence') IS NOT NULL", connection);
        Assert.Equal(true, await command.ExecuteScalarAsync());
        Assert.True(ProcessTable.IsAlive(server.ProcessId));
    }

    [Theory]
    [InlineData(PostgresShutdown.Fast)]
    [InlineData(PostgresShutdown.Immediate)]
    [InlineData(PostgresShutdown.Kill)]
    public async Task Data_committed_before_a_restart_is_there_after_it(PostgresShutdown how)
    {
        var sku = $"PP-restart-{how}";
        await SeedAsync(7, sku);
        var before = server.ProcessId;

        var clock = Stopwatch.StartNew();
        await server.RestartAsync(how);
        output.WriteLine($"restart ({how}): {clock.ElapsedMilliseconds} ms");

        Assert.NotEqual(before, server.ProcessId);
        Assert.False(ProcessTable.IsAlive(before), $"the old postmaster {before} is gone");
        Assert.Equal(7, await ReadOnHandAsync(sku));
    }

    [Theory]
    [InlineData(PostgresShutdown.Fast)]
    [InlineData(PostgresShutdown.Kill)]
    public async Task A_fenced_commit_fails_clearly_while_the_server_is_down_and_succeeds_after_the_restart_on_the_same_data_source(PostgresShutdown how)
    {
        var sku = $"PP-commit-{how}";
        await SeedAsync(10, sku);
        await using var dataSource = db.CreateDataSource(new FencedCommitterOptions());
        var committer = new FencedCommitter(dataSource, new FencedCommitterOptions());
        Assert.True((await committer.CommitAsync(Token, "n1", [Order($"pp-{how}-1", (sku, 1))]))[0].Confirmed);
        await WarmPoolAsync(dataSource, 4);

        await server.StopAsync(how);

        // A pooled connection the server closed fails first (after a fast stop with its 57P01 "terminating connection due
        // to administrator command"); once Npgsql has dropped the broken ones, a new connection is refused.
        var failures = new List<NpgsqlException>();
        for (var attempt = 1; attempt <= 6 && failures.LastOrDefault()?.InnerException is not System.Net.Sockets.SocketException; attempt++)
        {
            failures.Add(await Assert.ThrowsAnyAsync<NpgsqlException>(() => committer.CommitAsync(Token, "n1", [Order($"pp-{how}-2", (sku, 1))]).WaitAsync(Timeout)));
            output.WriteLine($"while down ({how}), attempt {attempt}: {failures[^1].GetType().Name}: {failures[^1].Message} / {failures[^1].InnerException?.Message}");
        }

        Assert.All(failures, f => Assert.True(f is not PostgresException p || p.SqlState == PostgresErrorCodes.AdminShutdown, $"a connection failure, not an SQL error: {f.Message}"));
        Assert.Contains("Failed to connect", failures[^1].Message, StringComparison.Ordinal);

        await server.StartAsync();
        var decisions = await committer.CommitAsync(Token, "n1", [Order($"pp-{how}-3", (sku, 1))]).WaitAsync(Timeout);

        Assert.True(decisions[0].Confirmed, "the first commit after the restart goes through the same data source");
        Assert.Equal(8, await ReadOnHandAsync(sku));
    }

    [Fact]
    public async Task Dispose_stops_every_process_it_started_and_deletes_its_directory()
    {
        var clock = Stopwatch.StartNew();
        var own = await PrivatePostgres.StartNewAsync();
        output.WriteLine($"initdb + start + role: {clock.ElapsedMilliseconds} ms");
        var seen = new HashSet<int>();
        NpgsqlConnection? open = null;
        try
        {
            foreach (var how in Enum.GetValues<PostgresShutdown>())
            {
                await using (var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(own.ConnectionString) { Pooling = false }.ConnectionString))
                {
                    await connection.OpenAsync();
                    seen.UnionWith(own.ServerProcessIds());
                }

                clock.Restart();
                await own.RestartAsync(how);
                output.WriteLine($"restart ({how}): {clock.ElapsedMilliseconds} ms");
            }

            // A session left open: dispose must end its backend too.
            open = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(own.ConnectionString) { Pooling = false }.ConnectionString);
            await open.OpenAsync();
            seen.UnionWith(own.ServerProcessIds());
        }
        finally
        {
            clock.Restart();
            await own.DisposeAsync();
            output.WriteLine($"dispose: {clock.ElapsedMilliseconds} ms");
            if (open is not null)
            {
                await open.DisposeAsync();
            }
        }

        Assert.True(seen.Count > 4, $"saw postmasters and their children: {string.Join(',', seen)}");
        Assert.DoesNotContain(seen, ProcessTable.IsAlive);
        Assert.False(Directory.Exists(own.Directory), $"{own.Directory} is deleted");
    }

    private static CommitInventory Order(string id, (string Sku, int Quantity) line) =>
        new() { OrderId = id, Lines = [new OrderLine { Sku = line.Sku, Quantity = line.Quantity }] };

    private Task SeedAsync(int quantity, string sku) => InventoryDatabase.SeedStockAsync(db.DataSource, [sku], quantity);

    /// <summary>Reads over a connection of its own, so the answer does not depend on what the pools did with the restart.</summary>
    private async Task<int?> ReadOnHandAsync(string sku)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(db.ConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT on_hand FROM stock WHERE sku = $1", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = sku });
        return (int?)await command.ExecuteScalarAsync();
    }

    /// <summary>Leaves <paramref name="count"/> idle connections in the pool, which the restart breaks under it.</summary>
    private static async Task WarmPoolAsync(NpgsqlDataSource dataSource, int count)
    {
        var connections = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => dataSource.OpenConnectionAsync().AsTask()));
        foreach (var connection in connections)
        {
            await connection.DisposeAsync();
        }
    }
}
