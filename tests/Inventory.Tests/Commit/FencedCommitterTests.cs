using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Verification;
using Pipeline.Testing;
using static Pipeline.Inventory.Tests.Commit.CommitTestKit;

namespace Pipeline.Inventory.Tests.Commit;

/// <summary>Every outcome of a commit, read back from the database.</summary>
public sealed class FencedCommitterTests(InventoryDatabaseFixture db) : IClassFixture<InventoryDatabaseFixture>
{
    private static readonly FenceToken Token = new(1, 1);

    [Fact]
    public async Task Orders_are_confirmed_or_rejected_all_or_nothing_in_message_order()
    {
        await SeedAsync(db, 10, "A-1", "A-2");
        var committer = await CommitterAsync(db);
        Assert.True((await committer.AcquireFenceAsync(Token, "n1")).Acquired);
        var orders = new[]
        {
            Order("a-ok", ("A-1", 6), ("A-2", 1)),
            Order("a-short", ("A-1", 5), ("A-2", 1)),   // A-1 has 4 left: nothing of this order is taken
            Order("a-unknown", ("A-2", 1), ("NOPE", 1)),
            Order("a-rest", ("A-1", 4)),
        };
        await ReceiveAsync(db, orders);

        var decisions = await committer.CommitAsync(Token, "n1", orders);

        Assert.Equal(["a-ok", "a-short", "a-unknown", "a-rest"], decisions.Select(d => d.OrderId));
        Assert.True(decisions[0].Confirmed);
        Assert.Equal((RejectionReason.OutOfStock, false), (decisions[1].Reason!.Value, decisions[1].Confirmed));
        Assert.Equal(RejectionReason.UnknownSku, decisions[2].Reason);
        Assert.Equal("NOPE", decisions[2].Detail);
        Assert.True(decisions[3].Confirmed);
        Assert.Equal(0, await OnHandAsync(db, "A-1"));
        Assert.Equal(9, await OnHandAsync(db, "A-2"));
        Assert.Equal(4, await CountAsync(db, "inventory_commits", "order_id LIKE 'a-%' AND generation = 1 AND sequence = 1 AND node_id = 'n1'"));
        Assert.Equal(2, await CountAsync(db, "orders", "order_id LIKE 'a-%' AND status = 'Confirmed'"));
        Assert.Equal(2, await CountAsync(db, "orders", "order_id LIKE 'a-%' AND status = 'Rejected' AND decided_at IS NOT NULL"));
    }

    [Fact]
    public async Task A_redelivered_batch_changes_nothing_and_returns_the_original_decisions()
    {
        await SeedAsync(db, 5, "B-1");
        var committer = await CommitterAsync(db);
        var orders = new[] { Order("b-1", ("B-1", 2)), Order("b-2", ("B-1", 9)) };
        await ReceiveAsync(db, orders);
        var first = await committer.CommitAsync(Token, "n1", orders);
        var again = await committer.CommitAsync(new FenceToken(1, 2), "n2", orders);

        Assert.All(again, d => Assert.True(d.AlreadyDecided));
        Assert.Equal(first.Select(d => (d.OrderId, d.Confirmed, d.Reason, d.Token, d.NodeId)), again.Select(d => (d.OrderId, d.Confirmed, d.Reason, d.Token, d.NodeId)));
        Assert.Equal(3, await OnHandAsync(db, "B-1"));
        Assert.Equal(2, await CountAsync(db, "inventory_commits", "order_id LIKE 'b-%'"));
    }

    [Fact]
    public async Task The_warm_up_locks_reads_and_writes_nothing()
    {
        await SeedAsync(db, 7, "W-1");
        var options = new FencedCommitterOptions();
        var committer = await CommitterAsync(db, options);
        Assert.True((await committer.AcquireFenceAsync(Token, "n1")).Acquired);
        var before = (await FenceAsync(db, options.Resource), await CountAsync(db, "inventory_commits"), await CountAsync(db, "fence_rejections"), await CountAsync(db, "orders"));

        // Another transaction holds every fence row and the stock row: a warm-up that touched any of them would wait.
        await using (var holder = await db.DataSource.OpenConnectionAsync())
        {
            await using var tx = await holder.BeginTransactionAsync();
            await using (var lockAll = new Npgsql.NpgsqlCommand("SELECT 1 FROM leader_fence FOR UPDATE; SELECT 1 FROM stock WHERE sku = 'W-1' FOR UPDATE", holder, tx))
            {
                await lockAll.ExecuteNonQueryAsync();
            }

            await committer.WarmUpAsync().WaitAsync(TimeSpan.FromSeconds(10));
            await tx.RollbackAsync();
        }

        var after = (await FenceAsync(db, options.Resource), await CountAsync(db, "inventory_commits"), await CountAsync(db, "fence_rejections"), await CountAsync(db, "orders"));
        Assert.Equal(before, after);
        Assert.Equal(7, await OnHandAsync(db, "W-1"));

        // And the real path still works after it, on the same pooled connection.
        var order = Order("w-1", ("W-1", 2));
        await ReceiveAsync(db, order);
        Assert.True((await committer.CommitAsync(Token, "n1", [order]))[0].Confirmed);
        Assert.Equal(5, await OnHandAsync(db, "W-1"));
    }

    [Fact]
    public async Task The_check_constraint_stops_an_oversell_even_from_a_hand_written_update()
    {
        await SeedAsync(db, 1, "C-1");
        var ex = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => ScalarAsync<object>(db, "UPDATE stock SET on_hand = on_hand - 2 WHERE sku = 'C-1'"));
        Assert.Equal("23514", ex.SqlState); // check_violation
        Assert.Equal(1, await OnHandAsync(db, "C-1"));
    }

    [Fact]
    public async Task The_invariant_checker_finds_the_state_consistent_after_commits()
    {
        await SeedAsync(db, 3, "D-1");
        var committer = await CommitterAsync(db);
        var orders = Enumerable.Range(0, 5).Select(i => Order($"d-{i}", ("D-1", 1))).ToArray();
        await ReceiveAsync(db, orders);
        await committer.CommitAsync(Token, "n1", orders);
        var report = await new InvariantChecker(db.DataSource).VerifyAsync(drained: false, ["d-0", "d-4"]);
        Assert.True(report.AllHold, report.ToString());
    }
}
