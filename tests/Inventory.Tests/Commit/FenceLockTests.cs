using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Npgsql;
using Pipeline.Inventory.Commit;
using Pipeline.Testing;
using static Pipeline.Inventory.Tests.Commit.CommitTestKit;

namespace Pipeline.Inventory.Tests.Commit;

/// <summary>What the commit path does while another transaction holds the fence row: the acquiring leader retries on
/// lock_timeout, a commit gives up (or is cancelled) without writing anything, and a missing fence row fails closed.</summary>
public sealed class FenceLockTests(InventoryDatabaseFixture db) : IClassFixture<InventoryDatabaseFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task AcquireFence_retries_after_lock_timeout_and_acquires_once_the_holder_commits()
    {
        var resource = await NewFenceAsync(db);
        var log = new ListLogger();
        await using var source = db.CreateDataSource(new FencedCommitterOptions { LockTimeout = TimeSpan.FromMilliseconds(200) });
        var committer = new FencedCommitter(source, new FencedCommitterOptions { Resource = resource }, log);
        await using var holder = await HoldFenceRowAsync(resource);

        var acquire = committer.AcquireFenceAsync(new FenceToken(4, 2), "next");
        await Eventually.TrueAsync(() => Task.FromResult(log.Messages.Any(m => m.Contains("retrying", StringComparison.Ordinal))), Wait, "a lock_timeout retry to be logged");
        Assert.False(acquire.IsCompleted);
        await holder.CommitAsync();

        Assert.Equal(new FenceAcquisition(true, new FenceToken(4, 2)), await acquire);
        Assert.Equal((new FenceToken(4, 2), "next"), await FenceAsync(db, resource));
    }

    [Fact]
    public async Task AcquireFence_gives_up_with_lock_not_available_after_ten_attempts()
    {
        var resource = await NewFenceAsync(db);
        var log = new ListLogger();
        await using var source = db.CreateDataSource(new FencedCommitterOptions { LockTimeout = TimeSpan.FromMilliseconds(20) });
        var committer = new FencedCommitter(source, new FencedCommitterOptions { Resource = resource }, log);
        await using var holder = await HoldFenceRowAsync(resource);

        var ex = await Assert.ThrowsAsync<PostgresException>(() => committer.AcquireFenceAsync(new FenceToken(4, 2), "next"));

        Assert.Equal(PostgresErrorCodes.LockNotAvailable, ex.SqlState);
        Assert.Equal(9, log.Messages.Count(m => m.Contains("retrying", StringComparison.Ordinal)));
        await holder.RollbackAsync();
        Assert.Equal((new FenceToken(0, 0), ""), await FenceAsync(db, resource));
        Assert.Equal(0, await CountAsync(db, "fence_rejections", $"resource = '{resource}'"));
    }

    [Fact]
    public async Task A_commit_that_cannot_get_the_fence_row_in_time_fails_with_lock_not_available_and_writes_nothing()
    {
        await SeedAsync(db, 5, "FL-A");
        var order = Order("fl-timeout", ("FL-A", 1));
        await ReceiveAsync(db, order);
        var resource = await NewFenceAsync(db);
        await using var source = db.CreateDataSource(new FencedCommitterOptions { LockTimeout = TimeSpan.FromMilliseconds(100) });
        var committer = new FencedCommitter(source, new FencedCommitterOptions { Resource = resource });
        await using var holder = await HoldFenceRowAsync(resource);

        var ex = await Assert.ThrowsAsync<PostgresException>(() => committer.CommitAsync(new FenceToken(1, 1), "n1", [order]));

        Assert.Equal(PostgresErrorCodes.LockNotAvailable, ex.SqlState);
        await holder.RollbackAsync();
        await AssertUntouchedAsync(resource, "fl-timeout", "FL-A", 5);

        // The pooled connection is clean: the same committer commits now.
        Assert.True((await committer.CommitAsync(new FenceToken(1, 1), "n1", [order])).Single().Confirmed);
    }

    [Fact]
    public async Task A_commit_cancelled_while_waiting_on_the_fence_row_writes_nothing_and_leaves_its_connection_usable()
    {
        await SeedAsync(db, 5, "FL-B");
        var order = Order("fl-cancel", ("FL-B", 2));
        await ReceiveAsync(db, order);
        var resource = await NewFenceAsync(db);
        var app = "cancel-" + Guid.NewGuid().ToString("N")[..12];
        await using var source = NamedDataSource(db, new FencedCommitterOptions { LockTimeout = TimeSpan.FromSeconds(60) }, app);
        var committer = new FencedCommitter(source, new FencedCommitterOptions { Resource = resource });
        await using var holder = await HoldFenceRowAsync(resource);

        using var cancel = new CancellationTokenSource();
        var commit = committer.CommitAsync(new FenceToken(1, 1), "n1", [order], cancel.Token);
        await Eventually.TrueAsync(
            async () => await CountAsync(db, "pg_stat_activity", $"application_name = '{app}' AND wait_event_type = 'Lock'") == 1,
            Wait, "the commit to wait on the fence row");
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => commit);
        await holder.RollbackAsync();
        await AssertUntouchedAsync(resource, "fl-cancel", "FL-B", 5);
        Assert.Equal(0, await CountAsync(db, "pg_stat_activity", $"application_name = '{app}' AND state LIKE 'idle in transaction%'"));
        Assert.True((await committer.CommitAsync(new FenceToken(1, 1), "n1", [order])).Single().Confirmed);
        Assert.Equal(3, await OnHandAsync(db, "FL-B"));
    }

    [Fact]
    public async Task A_committer_whose_fence_row_does_not_exist_fails_closed_and_writes_nothing()
    {
        await SeedAsync(db, 5, "FL-C");
        var order = Order("fl-nofence", ("FL-C", 1));
        await ReceiveAsync(db, order);
        var committer = new FencedCommitter(db.DataSource, new FencedCommitterOptions { Resource = "no-such-fence" });

        var acquire = await Assert.ThrowsAsync<InvalidOperationException>(() => committer.AcquireFenceAsync(new FenceToken(1, 1), "n1"));
        Assert.Contains("no-such-fence", acquire.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidOperationException>(() => committer.CommitAsync(new FenceToken(1, 1), "n1", [order]));

        Assert.Equal(5, await OnHandAsync(db, "FL-C"));
        Assert.Equal(0, await CountAsync(db, "inventory_commits", "order_id = 'fl-nofence'"));
        Assert.Equal(0, await CountAsync(db, "leader_fence", "resource = 'no-such-fence'"));
    }

    /// <summary>A transaction that holds the fence row lock (SELECT ... FOR UPDATE) without changing it, as a paused commit would.</summary>
    private async Task<RowLock> HoldFenceRowAsync(string resource)
    {
        var connection = await db.OpenConnectionAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand($"SELECT 1 FROM leader_fence WHERE resource = '{resource}' FOR UPDATE", connection, transaction);
        Assert.Equal(1, await command.ExecuteScalarAsync());
        return new RowLock(connection, transaction);
    }

    private async Task AssertUntouchedAsync(string resource, string orderId, string sku, int onHand)
    {
        Assert.Equal(onHand, await OnHandAsync(db, sku));
        Assert.Equal(0, await CountAsync(db, "inventory_commits", $"order_id = '{orderId}'"));
        Assert.Equal(1, await CountAsync(db, "orders", $"order_id = '{orderId}' AND status = 'Received'"));
        Assert.Equal((new FenceToken(0, 0), ""), await FenceAsync(db, resource));
        Assert.Equal(0, await CountAsync(db, "fence_rejections", $"resource = '{resource}'"));
    }

    private sealed class RowLock(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        public Task CommitAsync() => transaction.CommitAsync();

        public Task RollbackAsync() => transaction.RollbackAsync();

        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
    }

    private sealed class ListLogger : ILogger<FencedCommitter>
    {
        public ConcurrentQueue<string> Messages { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Messages.Enqueue(formatter(state, exception));
    }
}
