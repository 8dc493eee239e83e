using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.Testing;
using static Pipeline.Inventory.Tests.Commit.CommitTestKit;

namespace Pipeline.Inventory.Tests.Commit;

/// <summary>Whatever a message holds, the commit decides it (Invalid with a reason when it is unusable), never throws,
/// never writes part of an order, and leaves the valid orders of the same batch alone.</summary>
public sealed class BadInputTests(InventoryDatabaseFixture db) : IClassFixture<InventoryDatabaseFixture>
{
    private static readonly FenceToken Token = new(1, 1);

    public static TheoryData<string, string> InvalidContent => new()
    {
        { "zero-quantity", "has quantity 0; quantities must be positive" },
        { "negative-quantity", "has quantity -3; quantities must be positive" },
        { "min-quantity", $"has quantity {int.MinValue}; quantities must be positive" },
        { "overflowing-sum", $"add up past {int.MaxValue}" },
        { "no-lines", "the order has no lines" },
        { "null-lines", "the order has no lines" },
        { "null-line", "a line has no SKU" },
        { "null-sku", "a line has no SKU" },
        { "empty-sku", "a line has no SKU" },
        { "whitespace-sku", "a line has no SKU" },
        { "1001-lines", "the order has 1001 lines, more than 1000" },
    };

    [Theory]
    [MemberData(nameof(InvalidContent))]
    public async Task Invalid_content_is_rejected_as_Invalid_with_a_reason_and_takes_no_stock(string kind, string detail)
    {
        var sku = $"BI-{kind}";
        await SeedAsync(db, 10, sku);
        var good = (Sku: sku, Quantity: 2);
        var lines = kind switch
        {
            "zero-quantity" => Lines(good, (sku, 0)),
            "negative-quantity" => Lines(good, (sku, -3)),
            "min-quantity" => Lines(good, (sku, int.MinValue)),
            "overflowing-sum" => Lines(good, (sku, int.MaxValue - 1)),
            "no-lines" => [],
            "null-lines" => null!,
            "null-line" => [.. Lines(good), null!],
            "null-sku" => Lines(good, (null!, 1)),
            "empty-sku" => Lines(good, ("", 1)),
            "whitespace-sku" => Lines(good, (" \t", 1)),
            "1001-lines" => Lines([.. Enumerable.Repeat((sku, 1), 1001)]),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        var id = $"bi-{kind}";
        var batch = new[] { Order($"{id}-before", good), new CommitInventory { OrderId = id, Lines = lines }, Order($"{id}-after", good) };
        var committer = await CommitterAsync(db);

        var decisions = await committer.CommitAsync(Token, "n1", batch);

        Assert.Equal((id, false, RejectionReason.Invalid, true), (decisions[1].OrderId, decisions[1].Confirmed, decisions[1].Reason, decisions[1].Recorded));
        Assert.Contains(detail, decisions[1].Detail, StringComparison.Ordinal);
        Assert.True(decisions[0].Confirmed && decisions[2].Confirmed, "the valid orders around the bad one are confirmed");
        Assert.Equal(6, await OnHandAsync(db, sku));
        Assert.Equal(1, await CountAsync(db, "inventory_commits", $"order_id = '{id}' AND outcome = 'Rejected' AND reason = 'Invalid' AND detail = '{decisions[1].Detail!.Replace("'", "''", StringComparison.Ordinal)}'"));
    }

    public static TheoryData<string> UnusableIds => new() { "null", "empty", "whitespace", "too-long" };

    [Theory]
    [MemberData(nameof(UnusableIds))]
    public async Task An_order_with_an_unusable_id_is_rejected_as_Invalid_without_any_row(string kind)
    {
        var sku = $"BI-id-{kind}";
        await SeedAsync(db, 10, sku);
        var id = kind switch { "null" => null!, "empty" => "", "whitespace" => "   ", "too-long" => new string('x', OrderValidation.MaxIdLength + 1), _ => throw new ArgumentOutOfRangeException(nameof(kind)) };
        var committer = await CommitterAsync(db);
        var ledgerBefore = await CountAsync(db, "inventory_commits");

        var decisions = await committer.CommitAsync(Token, "n1", [Order(id, (sku, 1)), Order($"bi-id-{kind}-ok", (sku, 1))]);

        Assert.Equal((false, RejectionReason.Invalid, false), (decisions[0].Confirmed, decisions[0].Reason, decisions[0].Recorded));
        Assert.Equal(kind == "too-long" ? $"the order id is longer than {OrderValidation.MaxIdLength} characters" : "the order id is missing", decisions[0].Detail);
        Assert.True(decisions[1].Confirmed);
        Assert.Equal(9, await OnHandAsync(db, sku));
        Assert.Equal(ledgerBefore + 1, await CountAsync(db, "inventory_commits"));
    }

    [Fact]
    public async Task An_id_of_exactly_the_maximum_length_is_usable()
    {
        await SeedAsync(db, 1, "BI-200");
        var id = new string('y', OrderValidation.MaxIdLength);
        var decision = (await (await CommitterAsync(db)).CommitAsync(Token, "n1", [Order(id, ("BI-200", 1))])).Single();
        Assert.True(decision.Confirmed && decision.Recorded);
        Assert.Equal(1, await CountAsync(db, "inventory_commits", $"order_id = '{id}' AND outcome = 'Confirmed'"));
    }

    [Fact]
    public async Task A_null_message_in_a_batch_is_decided_Invalid_without_a_row_and_the_rest_commits()
    {
        await SeedAsync(db, 5, "BI-null-msg");
        var committer = await CommitterAsync(db);
        var decisions = await committer.CommitAsync(Token, "n1", [null!, Order("bi-null-msg-ok", ("BI-null-msg", 2))]);
        Assert.Equal(("", false, RejectionReason.Invalid, "the order id is missing", false), (decisions[0].OrderId, decisions[0].Confirmed, decisions[0].Reason, decisions[0].Detail, decisions[0].Recorded));
        Assert.True(decisions[1].Confirmed);
        Assert.Equal(3, await OnHandAsync(db, "BI-null-msg"));
    }

    [Fact]
    public async Task An_unknown_sku_rejects_the_whole_order_as_UnknownSku_and_takes_none_of_its_known_lines()
    {
        await SeedAsync(db, 5, "BI-known");
        var weird = "BI-NOPE'; DROP TABLE stock; --";
        await ReceiveAsync(db, Order("bi-unknown", ("BI-known", 2), (weird, 1)));
        var decision = (await (await CommitterAsync(db)).CommitAsync(Token, "n1", [Order("bi-unknown", ("BI-known", 2), (weird, 1))])).Single();
        Assert.Equal((false, RejectionReason.UnknownSku, weird), (decision.Confirmed, decision.Reason, decision.Detail));
        Assert.Equal(5, await OnHandAsync(db, "BI-known"));
        Assert.Equal(1, await CountAsync(db, "orders", "order_id = 'bi-unknown' AND status = 'Rejected' AND reason = 'UnknownSku'"));
    }

    [Fact]
    public async Task A_thousand_lines_is_allowed_and_reserves_every_line()
    {
        var skus = Enumerable.Range(0, OrderValidation.MaxLines).Select(i => $"BI-K-{i:0000}").ToArray();
        await SeedAsync(db, 2, skus);
        var order = Order("bi-thousand", [.. skus.Select(s => (s, 1))]);
        await ReceiveAsync(db, order);
        var decision = (await (await CommitterAsync(db)).CommitAsync(Token, "n1", [order])).Single();
        Assert.True(decision.Confirmed, decision.ToString());
        Assert.Equal(1000, await CountAsync(db, "stock", "sku LIKE 'BI-K-%' AND on_hand = 1"));
        Assert.Equal(1, await CountAsync(db, "orders", "order_id = 'bi-thousand' AND status = 'Confirmed'"));
    }

    [Fact]
    public async Task The_same_sku_on_two_lines_is_one_reservation_of_the_summed_quantity()
    {
        await SeedAsync(db, 5, "BI-sum");
        var order = Order("bi-sum", ("BI-sum", 2), ("BI-sum", 3));
        await ReceiveAsync(db, order);
        Assert.True((await (await CommitterAsync(db)).CommitAsync(Token, "n1", [order])).Single().Confirmed);
        Assert.Equal(0, await OnHandAsync(db, "BI-sum"));
    }

    [Fact]
    public async Task The_same_sku_on_two_lines_is_out_of_stock_when_the_sum_exceeds_on_hand_even_though_each_line_fits()
    {
        await SeedAsync(db, 4, "BI-sum-short");
        var decision = (await (await CommitterAsync(db)).CommitAsync(Token, "n1", [Order("bi-sum-short", ("BI-sum-short", 2), ("BI-sum-short", 3))])).Single();
        Assert.Equal((false, RejectionReason.OutOfStock, "BI-sum-short: 5 wanted, 4 on hand"), (decision.Confirmed, decision.Reason, decision.Detail));
        Assert.Equal(4, await OnHandAsync(db, "BI-sum-short"));
    }

    [Fact]
    public async Task Quantities_summing_to_exactly_int_MaxValue_are_valid_and_simply_out_of_stock()
    {
        await SeedAsync(db, 7, "BI-max");
        var decision = (await (await CommitterAsync(db)).CommitAsync(Token, "n1", [Order("bi-max", ("BI-max", int.MaxValue - 1), ("BI-max", 1))])).Single();
        Assert.Equal((false, RejectionReason.OutOfStock), (decision.Confirmed, decision.Reason));
        Assert.Equal(7, await OnHandAsync(db, "BI-max"));
    }

    [Fact]
    public async Task The_same_order_id_twice_in_one_batch_is_decided_once()
    {
        await SeedAsync(db, 5, "BI-twice");
        var order = Order("bi-twice", ("BI-twice", 2));
        await ReceiveAsync(db, order);
        var decisions = await (await CommitterAsync(db)).CommitAsync(Token, "n1", [order, order]);
        Assert.Equal([(true, false), (true, true)], decisions.Select(d => (d.Confirmed, d.AlreadyDecided)));
        Assert.Equal(3, await OnHandAsync(db, "BI-twice"));
        Assert.Equal(1, await CountAsync(db, "inventory_commits", "order_id = 'bi-twice'"));
    }

    [Fact]
    public async Task An_empty_batch_commits_nothing_and_a_null_batch_is_an_argument_error()
    {
        var committer = await CommitterAsync(db);
        Assert.Empty(await committer.CommitAsync(Token, "n1", []));
        await Assert.ThrowsAsync<ArgumentNullException>(() => committer.CommitAsync(Token, "n1", null!));
        await Assert.ThrowsAsync<ArgumentException>(() => committer.CommitAsync(Token, "", []));
    }

    private static OrderLine[] Lines(params (string Sku, int Quantity)[] lines) => [.. lines.Select(l => new OrderLine { Sku = l.Sku, Quantity = l.Quantity })];
}
