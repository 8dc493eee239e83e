using System.Collections.Concurrent;
using System.Diagnostics;
using MassTransit;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Pipeline.Contracts;
using Pipeline.Inventory;
using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Intake;
using Pipeline.OrderService.Commit;
using Pipeline.OrderService.Configuration;
using Pipeline.OrderService.Telemetry;
using Pipeline.Testing;

namespace Pipeline.OrderService.Tests.CommitSlice;

/// <summary>An <see cref="ICommitAuthority"/> the test drives by hand: it hands out whatever grant the test set.</summary>
internal sealed class HandDrivenAuthority : ICommitAuthority
{
    private readonly ConcurrentQueue<StaleLeaderException> refusals = new();

    public CommitGrant? Current { get; set; }

    public IReadOnlyCollection<StaleLeaderException> Refusals => refusals;

    public ValueTask AdmitAsync(ConsumeContext context) => ValueTask.CompletedTask;

    public ValueTask<CommitGrant?> WaitForGrantAsync(TimeSpan limit) => ValueTask.FromResult(Current);

    /// <summary>As the product's authority does (asynchronously there): no grant after a refusal.</summary>
    public void FencedOff(StaleLeaderException refusal)
    {
        refusals.Enqueue(refusal);
        Current = null;
    }

    public Task<LeadershipStatus> DescribeAsync(CancellationToken cancellationToken) =>
        Task.FromResult(new LeadershipStatus("test", null, Current is not null, Current?.Token, [], [], null));

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Records the size of every batch that reaches the committer; can hold batches before their transaction.</summary>
internal sealed class RecordingHooks : CommitHooks
{
    private readonly ConcurrentQueue<int> batches = new();
    private volatile TaskCompletionSource? hold;

    public IReadOnlyList<int> Batches => [.. batches];

    /// <summary>From now on each batch waits before its transaction until <see cref="Release"/> (or its grant is revoked).</summary>
    public void Hold() => hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => hold?.TrySetResult();

    /// <summary>Completes once a batch is waiting in <see cref="Hold"/>.</summary>
    public TaskCompletionSource Held { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override async ValueTask<bool> BeforeTransactionAsync(int orders, CancellationToken cancellationToken)
    {
        batches.Enqueue(orders);
        if (hold is { } waiting)
        {
            Held.TrySetResult();
            await waiting.Task.WaitAsync(cancellationToken);
        }

        return false;
    }
}

/// <summary>A batcher on a fence row of its own in a real database, with a hand-driven authority and recording hooks.</summary>
internal sealed class Slice : IAsyncDisposable
{
    private readonly PipelineMetrics metrics = new(new FenceStatus());

    private Slice(InventoryDatabaseFixture db, string resource, PipelineOptions options)
    {
        Db = db;
        Resource = resource;
        Committer = new FencedCommitter(db.DataSource, new FencedCommitterOptions { Resource = resource }, null, Hooks);
        Batcher = new CommitBatcher(Committer, Authority, metrics, Options.Create(options), NullLogger<CommitBatcher>.Instance);
    }

    public InventoryDatabaseFixture Db { get; }

    public string Resource { get; }

    public RecordingHooks Hooks { get; } = new();

    public HandDrivenAuthority Authority { get; } = new();

    public FencedCommitter Committer { get; }

    public CommitBatcher Batcher { get; }

    public static async Task<Slice> CreateAsync(InventoryDatabaseFixture db, int batchSize, TimeSpan timeLimit)
    {
        return new Slice(db, await db.NewFenceAsync(), new PipelineOptions { CommitBatchSize = batchSize, CommitBatchTimeLimit = timeLimit });
    }

    /// <summary>A grant for <paramref name="token"/> whose fence is acquired; revoke it with the returned source.</summary>
    public async Task<(CommitGrant Grant, CancellationTokenSource Revoke)> GrantAsync(FenceToken token)
    {
        Assert.True((await Committer.AcquireFenceAsync(token, "node-" + token)).Acquired, $"the fence refused {token}");
        var revoke = new CancellationTokenSource();
        var grant = new CommitGrant(token, "node-" + token, () => revoke.IsCancellationRequested ? "revoked by the test" : null, Stopwatch.GetTimestamp(), revoke.Token);
        Authority.Current = grant;
        return (grant, revoke);
    }

    /// <summary>Orders recorded at intake (as the pipeline does before it forwards them), one unit of a seeded SKU each.</summary>
    public async Task<CommitInventory[]> OrdersAsync(string prefix, int count)
    {
        var sku = prefix + "-sku";
        await InventoryDatabase.SeedStockAsync(Db.DataSource, [sku], 1_000);
        var store = new OrderIntakeStore(Db.DataSource);
        var orders = Enumerable.Range(1, count).Select(i => new CommitInventory { OrderId = $"{prefix}-{i}", Lines = [new OrderLine { Sku = sku, Quantity = 1 }] }).ToArray();
        foreach (var order in orders)
        {
            await store.RecordReceivedAsync(new OrderSubmitted { OrderId = order.OrderId, CustomerId = "c", Lines = order.Lines, SubmittedAt = DateTimeOffset.UtcNow }, order.Lines, "intake");
        }

        return orders;
    }

    /// <summary>Ledger rows of <paramref name="prefix"/>'s orders, with the token they were committed under.</summary>
    public async Task<List<(string OrderId, FenceToken Token)>> LedgerAsync(string prefix) =>
        [.. (await PipelineDb.LedgerAsync(Db.DataSource)).Where(r => r.OrderId.StartsWith(prefix + "-", StringComparison.Ordinal)).Select(r => (r.OrderId, new FenceToken(r.Generation, r.Sequence)))];

    public async ValueTask DisposeAsync()
    {
        await Batcher.DisposeAsync();
        metrics.Dispose();
    }
}
