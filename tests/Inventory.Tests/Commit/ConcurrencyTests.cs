using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Npgsql;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Verification;
using Pipeline.Testing;
using Xunit.Abstractions;
using static Pipeline.Inventory.Tests.Commit.CommitTestKit;

namespace Pipeline.Inventory.Tests.Commit;

/// <summary>Committers racing with rising tokens over one fence: whatever the interleaving, invariants 1 to 4 hold.</summary>
public sealed class ConcurrencyTests(InventoryDatabaseFixture db, ITestOutputHelper output) : IClassFixture<InventoryDatabaseFixture>
{
    private const int Committers = 8;
    private const int OrderCount = 10_000;
    private const int SkuCount = 50;
    private const int Seed = 20261126;

    [Fact]
    public async Task Eight_committers_with_random_rising_tokens_over_10k_orders_and_50_skus_keep_invariants_1_to_4()
    {
        var clock = Stopwatch.StartNew();
        var random = new Random(Seed);
        var skus = InventoryDatabase.SkuNames(SkuCount).Select(s => "CC-" + s).ToArray();
        var initial = new Dictionary<string, int>();
        for (var i = 0; i < SkuCount; i++)
        {
            // About 1000 units of demand per SKU: the first half runs out, the rest does not.
            initial[skus[i]] = 40 * (i + 1);
            await SeedAsync(db, initial[skus[i]], skus[i]);
        }

        var orders = Enumerable.Range(0, OrderCount).Select(n => Order($"cc-{n:00000}", [.. Enumerable.Range(0, random.Next(1, 4))
            .Select(_ => (random.Next(100) == 0 ? "CC-NOPE" : skus[random.Next(SkuCount)], random.Next(1, 5)))])).ToArray();
        await ReceiveManyAsync(db, orders);
        var received = clock.Elapsed;

        var resource = await NewFenceAsync(db);
        var race = new Race(resource, orders);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await Task.WhenAll(Enumerable.Range(0, Committers).Select(i => Task.Run(() => race.RunAsync(db, i, new FenceToken(1, 1 + (i % 4)), timeout.Token))));
        var raced = clock.Elapsed - received;
        output.WriteLine($"received {OrderCount} in {received.TotalSeconds:0.0} s; raced in {raced.TotalSeconds:0.0} s: {race.Commits} commits, " +
            $"{race.Stale} stale, {race.RefusedAcquisitions} refused acquisitions, {race.Transient} transient, {race.Stopped} committers stopped, {race.Redelivered} redelivered, last token {race.LastIssued}");

        // Every order decided exactly once, and what the committers were told is what the ledger says.
        Assert.Equal(OrderCount, race.FreshDecisions.Count);
        Assert.All(race.FreshDecisions, d => Assert.Equal(1, d.Value.Count));
        Assert.Equal(OrderCount, await CountAsync(db, "inventory_commits"));
        Assert.Equal(OrderCount, await ScalarAsync<long>(db, "SELECT count(DISTINCT order_id) FROM inventory_commits"));
        Assert.Equal(0, await CountAsync(db, "orders", "status = 'Received'"));
        var ledger = await ReadLedgerAsync();
        Assert.All(race.FreshDecisions, d => Assert.Equal(
            (d.Value.Decision.Confirmed ? "Confirmed" : "Rejected", d.Value.Decision.Token, d.Value.Decision.NodeId), ledger[d.Key]));
        Assert.Equal(0, await CountAsync(db, "inventory_commits c JOIN orders o USING (order_id)", "o.status <> c.outcome"));

        // Stock: the race really ran some SKUs dry, rejected the rest, and never oversold.
        Assert.Contains(race.FreshDecisions.Values, d => d.Decision.Reason == RejectionReason.OutOfStock);
        Assert.Contains(race.FreshDecisions.Values, d => d.Decision.Reason == RejectionReason.UnknownSku);
        Assert.True(await CountAsync(db, "stock", "sku LIKE 'CC-%' AND on_hand = 0") > 0, "no SKU ran out");
        Assert.Equal(0, await CountAsync(db, "stock", "on_hand < 0"));
        var taken = race.FreshDecisions.Values.Where(d => d.Decision.Confirmed).SelectMany(d => orders[int.Parse(d.Decision.OrderId[3..], System.Globalization.CultureInfo.InvariantCulture)].Lines)
            .GroupBy(l => l.Sku).ToDictionary(g => g.Key, g => g.Sum(l => l.Quantity));
        foreach (var sku in skus)
        {
            Assert.Equal(initial[sku] - taken.GetValueOrDefault(sku), await OnHandAsync(db, sku));
        }

        // Fencing: tokens rose, stale commits were refused and audited, and the ledger's tokens never go down in commit order
        // (checked against the running maximum of every earlier row, not only the previous one).
        Assert.True(race.Stale > 0, "no committer was ever fenced off; the race did not race");
        Assert.True(await ScalarAsync<long>(db, "SELECT count(DISTINCT (generation, sequence)) FROM inventory_commits") > 2);
        Assert.True(await CountAsync(db, "inventory_commits", "generation > 1") > 0);
        Assert.Equal(0, await ScalarAsync<long>(db, """
            SELECT count(*) FROM (
                SELECT ARRAY[generation, sequence] AS token,
                       max(ARRAY[generation, sequence]) OVER (ORDER BY commit_seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
                FROM inventory_commits) t
            WHERE token < before
            """));
        Assert.Equal(race.Stale + race.RefusedAcquisitions, await CountAsync(db, "fence_rejections", $"resource = '{resource}' AND (current_generation, current_sequence) > (generation, sequence)"));
        Assert.Equal(race.Stale + race.RefusedAcquisitions, await CountAsync(db, "fence_rejections"));

        var report = await new InvariantChecker(db.DataSource).VerifyAsync(drained: true, [.. orders.Select(o => o.OrderId)]);
        Assert.True(report.AllHold, report.ToString());
        Assert.Equal((OrderCount, 0L, OrderCount, race.Stale + race.RefusedAcquisitions), (report.Orders, report.Undecided, report.LedgerRows, report.FenceRejections));
        output.WriteLine($"total {clock.Elapsed.TotalSeconds:0.0} s");
    }

    private async Task<Dictionary<string, (string Outcome, FenceToken Token, string NodeId)>> ReadLedgerAsync()
    {
        await using var connection = await db.DataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT order_id, outcome, generation, sequence, node_id FROM inventory_commits", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new Dictionary<string, (string, FenceToken, string)>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0), (reader.GetString(1), new FenceToken(reader.GetInt64(2), reader.GetInt64(3)), reader.GetString(4)));
        }

        return rows;
    }

    /// <summary>The shared state of the race: a queue of undecided orders, the token issuer, the tallies.</summary>
    private sealed class Race
    {
        private readonly Channel<CommitInventory> queue = Channel.CreateUnbounded<CommitInventory>();
        private readonly Lock tokenLock = new();
        private readonly string resource;
        private long outstanding;
        private long redeliveryBudget = 300;
        private int issued;
        private int stale;
        private int refused;
        private int transient;
        private int stopped;
        private int commits;
        private int redelivered;

        public Race(string resource, IEnumerable<CommitInventory> orders)
        {
            this.resource = resource;
            foreach (var order in orders)
            {
                Enqueue(order);
            }
        }

        public ConcurrentDictionary<string, (int Count, OrderDecision Decision)> FreshDecisions { get; } = new();

        public FenceToken LastIssued { get; private set; } = new(1, 4);

        public int Stale => stale;

        public int RefusedAcquisitions => refused;

        public int Transient => transient;

        public int Stopped => stopped;

        public int Commits => commits;

        public int Redelivered => redelivered;

        /// <summary>One committer: takes batches of 1 to 100, sometimes acquires a higher token, and when fenced off either
        /// retries with a new higher token or stops (committer 0 never stops, so the queue always drains).</summary>
        public async Task RunAsync(InventoryDatabaseFixture db, int index, FenceToken token, CancellationToken cancellationToken)
        {
            var random = new Random(Seed + index);
            var node = $"c{index}";
            var committer = new FencedCommitter(db.DataSource, new FencedCommitterOptions { Resource = resource });
            while (await queue.Reader.WaitToReadAsync(cancellationToken))
            {
                if (random.Next(25) == 0)
                {
                    token = Next();
                    if (!(await committer.AcquireFenceAsync(token, node, cancellationToken)).Acquired)
                    {
                        Interlocked.Increment(ref refused);
                    }
                }

                var batch = new List<CommitInventory>();
                var size = random.Next(1, 101);
                while (batch.Count < size && queue.Reader.TryRead(out var order))
                {
                    batch.Add(order);
                }

                if (batch.Count == 0)
                {
                    continue;
                }

                try
                {
                    var decisions = await committer.CommitAsync(token, node, batch, cancellationToken);
                    Interlocked.Increment(ref commits);
                    Settle(batch, decisions, token, random);
                }
                catch (StaleLeaderException ex)
                {
                    Assert.True(ex.Current > token, $"{ex.Message}: the fence is not ahead");
                    Interlocked.Increment(ref stale);
                    Requeue(batch);
                    if (index != 0 && random.Next(6) == 0 && TryStop())
                    {
                        return;
                    }

                    token = Next();
                }
                catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.QueryCanceled)
                {
                    Interlocked.Increment(ref transient);
                    Requeue(batch);
                }
            }
        }

        private void Settle(List<CommitInventory> batch, IReadOnlyList<OrderDecision> decisions, FenceToken token, Random random)
        {
            Assert.Equal(batch.Count, decisions.Count);
            foreach (var decision in decisions.Where(d => !d.AlreadyDecided))
            {
                Assert.Equal(token, decision.Token);
                FreshDecisions.AddOrUpdate(decision.OrderId, (1, decision), (_, before) => (before.Count + 1, before.Decision));
            }

            // A few orders come back, as a redelivery after a lost ack would: they must be found already decided.
            if (random.Next(10) == 0 && Interlocked.Decrement(ref redeliveryBudget) >= 0)
            {
                Interlocked.Increment(ref redelivered);
                Enqueue(batch[random.Next(batch.Count)]);
            }

            if (Interlocked.Add(ref outstanding, -batch.Count) == 0)
            {
                queue.Writer.Complete();
            }
        }

        /// <summary>At most three committers give up, so several keep racing to the end.</summary>
        private bool TryStop()
        {
            lock (tokenLock)
            {
                if (stopped == 3)
                {
                    return false;
                }

                stopped++;
                return true;
            }
        }

        private void Enqueue(CommitInventory order)
        {
            Interlocked.Increment(ref outstanding);
            Assert.True(queue.Writer.TryWrite(order));
        }

        private void Requeue(List<CommitInventory> batch)
        {
            foreach (var order in batch)
            {
                Assert.True(queue.Writer.TryWrite(order));
            }
        }

        /// <summary>A token above every one issued so far; every fifth starts a new generation.</summary>
        private FenceToken Next()
        {
            lock (tokenLock)
            {
                issued++;
                LastIssued = issued % 5 == 0 ? new FenceToken(LastIssued.Generation + 1, 1) : LastIssued with { Sequence = LastIssued.Sequence + 1 };
                return LastIssued;
            }
        }
    }
}
