using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Verification;
using Pipeline.Testing;
using static Pipeline.Inventory.Tests.Commit.CommitTestKit;

namespace Pipeline.Inventory.Tests.Liveness;

/// <summary>A fault run checks its own orders: an earlier run's undecided order, broken stock or stale ledger row is that
/// run's violation, reported once by it, not again by every run after it. Unscoped, the checker still sees everything.</summary>
public sealed class ScopedInvariantTests
{
    [Fact]
    public async Task A_scoped_check_judges_only_its_orders_their_skus_and_their_ledger_rows()
    {
        var db = new InventoryDatabaseFixture();
        await db.InitializeAsync();
        try
        {
            // An earlier run: one order left undecided, its SKU's stock broken, and a stale-token ledger row.
            await SeedAsync(db, 10, "EARLY", "LATE");
            var early = new[] { Order("early-ok", ("EARLY", 1)), Order("early-stuck", ("EARLY", 1)) };
            await ReceiveAsync(db, early);
            var resource = await NewFenceAsync(db);
            var committer = new FencedCommitter(db.DataSource, new FencedCommitterOptions { Resource = resource });
            await committer.CommitAsync(new FenceToken(2, 1), "n1", early[..1]);
            await ExecuteAsync(db, "UPDATE stock SET on_hand = on_hand - 1 WHERE sku = 'EARLY'");
            await ExecuteAsync(db, "INSERT INTO inventory_commits (order_id, generation, sequence, node_id, outcome, reason) VALUES ('early-ghost', 1, 1, 'old', 'Rejected', 'OutOfStock')");

            // This run: sound.
            var late = new[] { Order("late-1", ("LATE", 2)), Order("late-2", ("LATE", 3)) };
            await ReceiveAsync(db, late);
            await committer.CommitAsync(new FenceToken(2, 2), "n2", late);
            string[] ours = [.. late.Select(o => o.OrderId)];

            var scoped = await new InvariantChecker(db.DataSource).VerifyAsync(drained: true, ours, scope: ours);
            var whole = await new InvariantChecker(db.DataSource).VerifyAsync(drained: true, ours);

            Assert.True(scoped.AllHold, scoped.ToString());
            Assert.Equal([1, 3, 4], whole.Results.Where(r => !r.Holds).Select(r => r.Number));
            Assert.Contains("early-stuck: still undecided", whole.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            await db.DisposeAsync();
        }
    }
}
