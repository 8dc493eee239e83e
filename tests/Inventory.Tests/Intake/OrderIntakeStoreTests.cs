using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Intake;
using Pipeline.Testing;
using static Pipeline.Inventory.Tests.Commit.CommitTestKit;

namespace Pipeline.Inventory.Tests.Intake;

/// <summary>Intake writes one orders row per order id: the same content again is a duplicate, other content a conflict,
/// and neither writes anything.</summary>
public sealed class OrderIntakeStoreTests(InventoryDatabaseFixture db) : IClassFixture<InventoryDatabaseFixture>
{
    private OrderIntakeStore Store => new(db.DataSource);

    [Fact]
    public async Task The_same_id_with_the_same_content_is_a_duplicate_even_with_another_timestamp_and_node_and_writes_nothing()
    {
        var order = Submitted("in-dup", "cust", ("IN-A", 2), ("IN-B", 1));
        Assert.Equal(new ReceiveResult(ReceiveOutcome.Recorded, "Received", null), await Store.RecordReceivedAsync(order, order.Lines, "n1"));
        var before = await RowAsync("in-dup");

        var again = await Store.RecordReceivedAsync(order with { SubmittedAt = order.SubmittedAt.AddMinutes(5) }, order.Lines, "n2");

        Assert.Equal(new ReceiveResult(ReceiveOutcome.Duplicate, "Received", null), again);
        Assert.Equal(1, await CountAsync(db, "orders", "order_id = 'in-dup'"));
        Assert.Equal(before, await RowAsync("in-dup"));
        Assert.Equal("n1", await ScalarAsync<string>(db, "SELECT received_by FROM orders WHERE order_id = 'in-dup'"));
    }

    public static TheoryData<string> Changes => new() { "quantity", "sku", "extra-line", "customer", "line-order", "split-line" };

    [Theory]
    [MemberData(nameof(Changes))]
    public async Task The_same_id_with_different_content_is_a_conflict_and_leaves_the_stored_order_unchanged(string change)
    {
        var id = $"in-conflict-{change}";
        var original = Submitted(id, "cust", ("IN-A", 2), ("IN-B", 1));
        await Store.RecordReceivedAsync(original, original.Lines, "n1");
        var before = await RowAsync(id);
        var other = change switch
        {
            "quantity" => Submitted(id, "cust", ("IN-A", 3), ("IN-B", 1)),
            "sku" => Submitted(id, "cust", ("IN-C", 2), ("IN-B", 1)),
            "extra-line" => Submitted(id, "cust", ("IN-A", 2), ("IN-B", 1), ("IN-C", 1)),
            "customer" => Submitted(id, "someone-else", ("IN-A", 2), ("IN-B", 1)),
            "line-order" => Submitted(id, "cust", ("IN-B", 1), ("IN-A", 2)), // the hash is over the lines as sent
            "split-line" => Submitted(id, "cust", ("IN-A", 1), ("IN-A", 1), ("IN-B", 1)), // the same total, sent differently
            _ => throw new ArgumentOutOfRangeException(nameof(change)),
        };

        var result = await Store.RecordReceivedAsync(other, other.Lines, "n2");

        Assert.Equal(new ReceiveResult(ReceiveOutcome.Conflict, "Received", null), result);
        Assert.Equal(1, await CountAsync(db, "orders", $"order_id = '{id}'"));
        Assert.Equal(before, await RowAsync(id));
    }

    [Fact]
    public async Task A_redelivered_order_already_decided_by_the_commit_is_a_duplicate_with_its_decided_status()
    {
        await SeedAsync(db, 5, "IN-D");
        var order = Submitted("in-decided", "cust", ("IN-D", 2));
        await Store.RecordReceivedAsync(order, order.Lines, "n1");
        Assert.True((await (await CommitterAsync(db)).CommitAsync(new FenceToken(1, 1), "n1", [new CommitInventory { OrderId = order.OrderId, Lines = order.Lines }])).Single().Confirmed);
        var before = await RowAsync("in-decided");

        Assert.Equal(new ReceiveResult(ReceiveOutcome.Duplicate, "Confirmed", null), await Store.RecordReceivedAsync(order, order.Lines, "n2"));
        Assert.Equal(before, await RowAsync("in-decided"));
        Assert.Equal(1, await CountAsync(db, "inventory_commits", "order_id = 'in-decided'"));
    }

    [Fact]
    public async Task An_order_rejected_at_intake_is_recorded_once_without_a_ledger_row_and_its_redelivery_is_a_duplicate()
    {
        OrderLine[] lines = [new() { Sku = "IN-E", Quantity = 0 }, null!];
        var order = new OrderSubmitted { OrderId = "in-rejected", CustomerId = "cust", Lines = lines, SubmittedAt = DateTimeOffset.UtcNow };

        var first = await Store.RecordRejectedAsync(order, RejectionReason.Invalid, "line IN-E has quantity 0", "n1");
        var again = await Store.RecordRejectedAsync(order, RejectionReason.Invalid, "line IN-E has quantity 0", "n2");
        var asReceived = await Store.RecordReceivedAsync(order, [], "n3");

        Assert.Equal(new ReceiveResult(ReceiveOutcome.Recorded, "Rejected", "Invalid"), first);
        Assert.Equal(new ReceiveResult(ReceiveOutcome.Duplicate, "Rejected", "Invalid"), again);
        Assert.Equal(new ReceiveResult(ReceiveOutcome.Duplicate, "Rejected", "Invalid"), asReceived);
        Assert.Equal(1, await CountAsync(db, "orders", "order_id = 'in-rejected' AND status = 'Rejected' AND reason = 'Invalid' AND detail = 'line IN-E has quantity 0' AND decided_at IS NOT NULL AND received_by = 'n1'"));
        Assert.Equal(0, await CountAsync(db, "inventory_commits", "order_id = 'in-rejected'"));
    }

    [Fact]
    public async Task Eight_replicas_recording_the_same_order_at_once_write_one_row_and_the_others_see_a_duplicate()
    {
        var order = Submitted("in-race", "cust", ("IN-F", 1));
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => Store.RecordReceivedAsync(order, order.Lines, $"n{i}"))));

        Assert.Equal(1, results.Count(r => r.Outcome == ReceiveOutcome.Recorded));
        Assert.Equal(7, results.Count(r => r.Outcome == ReceiveOutcome.Duplicate));
        Assert.Equal(1, await CountAsync(db, "orders", "order_id = 'in-race'"));
    }

    [Fact]
    public async Task Two_different_orders_racing_for_one_id_give_one_recorded_and_one_conflict_and_the_winner_is_stored()
    {
        var a = Submitted("in-race-2", "cust", ("IN-G", 1));
        var b = Submitted("in-race-2", "cust", ("IN-G", 2));
        var results = await Task.WhenAll(Task.Run(() => Store.RecordReceivedAsync(a, a.Lines, "a")), Task.Run(() => Store.RecordReceivedAsync(b, b.Lines, "b")));

        Assert.Equal([ReceiveOutcome.Recorded, ReceiveOutcome.Conflict], results.Select(r => r.Outcome).Order());
        var winner = results[0].Outcome == ReceiveOutcome.Recorded ? (Node: "a", Order: a) : (Node: "b", Order: b);
        Assert.Equal(1, await CountAsync(db, "orders", $"order_id = 'in-race-2' AND received_by = '{winner.Node}' AND content_hash = '{OrderIntakeStore.ContentHash(winner.Order.CustomerId, winner.Order.Lines)}'"));
    }

    [Fact]
    public async Task The_stored_lines_are_the_validated_ones_given_not_the_message_lines()
    {
        var order = Submitted("in-merged", "cust", ("IN-H", 1), ("IN-H", 2));
        var (lines, problem) = OrderValidation.Validate(order.OrderId, order.Lines);
        Assert.Null(problem);
        await Store.RecordReceivedAsync(order, lines!, "n1");
        Assert.Equal("[{\"sku\": \"IN-H\", \"quantity\": 3}]", await ScalarAsync<string>(db, "SELECT lines::text FROM orders WHERE order_id = 'in-merged'"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public async Task An_order_without_an_id_is_an_argument_error_and_writes_nothing(string? id)
    {
        var before = await CountAsync(db, "orders");
        var order = Submitted(id!, "cust", ("IN-I", 1));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.RecordReceivedAsync(order, order.Lines, "n1"));
        Assert.Equal(before, await CountAsync(db, "orders"));
    }

    private static OrderSubmitted Submitted(string id, string customer, params (string Sku, int Quantity)[] lines) => new()
    {
        OrderId = id,
        CustomerId = customer,
        Lines = [.. lines.Select(l => new OrderLine { Sku = l.Sku, Quantity = l.Quantity })],
        SubmittedAt = DateTimeOffset.UtcNow,
    };

    /// <summary>Every column of the stored row, to show nothing changed.</summary>
    private Task<string?> RowAsync(string id) => ScalarAsync<string>(db, $"SELECT row_to_json(o)::text FROM orders o WHERE order_id = '{id}'");
}
