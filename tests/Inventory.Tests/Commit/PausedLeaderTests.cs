using System.Diagnostics;
using Npgsql;
using Pipeline.Inventory.Commit;
using Pipeline.Testing;
using static Pipeline.Inventory.Tests.Commit.CommitTestKit;

namespace Pipeline.Inventory.Tests.Commit;

/// <summary>A leader paused inside its commit transaction does not hold the fence row hostage: Postgres ends the idle
/// transaction (idle_in_transaction_session_timeout), its locks go, and the next leader acquires the fence.</summary>
public sealed class PausedLeaderTests(InventoryDatabaseFixture db) : IClassFixture<InventoryDatabaseFixture>
{
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(1);

    // Long enough that only Postgres, not the paused committer resuming, can have freed the fence row in time.
    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(6);

    [Fact]
    public async Task A_transaction_paused_while_holding_the_fence_row_is_ended_by_Postgres_and_a_newer_token_then_acquires()
    {
        await SeedAsync(db, 10, "P-1");
        var order = Order("p-paused", ("P-1", 3));
        await ReceiveAsync(db, order);
        var resource = await NewFenceAsync(db);
        var app = "paused-" + Guid.NewGuid().ToString("N")[..12];
        var pausedOptions = new FencedCommitterOptions { Resource = resource, IdleInTransactionTimeout = IdleTimeout };
        await using var pausedSource = NamedDataSource(db, pausedOptions, app);
        var paused = new FencedCommitter(pausedSource, pausedOptions, null, new PauseInsideTransaction(Pause));
        var newer = new FencedCommitter(db.DataSource, new FencedCommitterOptions { Resource = resource });
        Assert.True((await paused.AcquireFenceAsync(new FenceToken(1, 1), "paused")).Acquired);

        var clock = Stopwatch.StartNew();
        var commit = paused.CommitAsync(new FenceToken(1, 1), "paused", [order]);
        var pid = await Eventually.GetAsync(
            async () => await ScalarAsync<string>(db, $"SELECT pid::text FROM pg_stat_activity WHERE application_name = '{app}' AND state = 'idle in transaction' AND backend_xid IS NOT NULL"),
            TimeSpan.FromSeconds(20), "the paused commit to sit idle in its transaction, holding the fence row", TimeSpan.FromMilliseconds(10));

        // The new leader blocks on the fence row until Postgres ends the paused transaction, then bumps the fence.
        var acquired = await newer.AcquireFenceAsync(new FenceToken(1, 2), "newer");
        var elapsed = clock.Elapsed;

        Assert.Equal(new FenceAcquisition(true, new FenceToken(1, 2)), acquired);
        Assert.True(elapsed < Pause, $"the fence was acquired after {elapsed}, not before the paused transaction would have resumed ({Pause})");
        Assert.False(commit.IsCompleted, "the paused committer is still asleep; Postgres, not the committer, freed the fence row");
        Assert.Equal(0, await ScalarAsync<long>(db, $"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}"));

        // When the paused leader wakes up its connection is gone: the commit fails and nothing it did is visible.
        var ex = await Assert.ThrowsAnyAsync<NpgsqlException>(() => commit);
        if (ex is PostgresException postgres)
        {
            Assert.Equal("25P03", postgres.SqlState); // idle_in_transaction_session_timeout
        }

        Assert.Equal(10, await OnHandAsync(db, "P-1"));
        Assert.Equal(0, await CountAsync(db, "inventory_commits", "order_id = 'p-paused'"));
        Assert.Equal(1, await CountAsync(db, "orders", "order_id = 'p-paused' AND status = 'Received'"));
        Assert.Equal((new FenceToken(1, 2), "newer"), await FenceAsync(db, resource));

        // And the new leader decides the order.
        Assert.True((await newer.CommitAsync(new FenceToken(1, 2), "newer", [order])).Single().Confirmed);
        Assert.Equal(7, await OnHandAsync(db, "P-1"));
        Assert.Equal(1, await CountAsync(db, "inventory_commits", "order_id = 'p-paused' AND generation = 1 AND sequence = 2"));
    }
}

/// <summary>A pause inside the open transaction, with the fence row locked, ignoring cancellation as a frozen process would.</summary>
internal sealed class PauseInsideTransaction(TimeSpan pause) : CommitHooks
{
    public override async ValueTask<bool> InsideTransactionAsync(CancellationToken cancellationToken)
    {
        await Task.Delay(pause, CancellationToken.None);
        return true;
    }
}
