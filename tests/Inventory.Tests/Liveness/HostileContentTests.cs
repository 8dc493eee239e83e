using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Intake;
using Pipeline.Testing;
using static Pipeline.Inventory.Tests.Commit.CommitTestKit;

namespace Pipeline.Inventory.Tests.Liveness;

/// <summary>
/// Content no order should carry (control characters such as NUL, lone surrogates, fields past their limits) is refused
/// by the one validator with a reason, before any statement sees it: a NUL in a text parameter would otherwise fail the
/// whole commit transaction (PostgreSQL cannot store it) and with it every good order of the batch. An order refused at
/// intake is stored in a bounded, printable form, whatever was sent.
/// </summary>
public sealed class HostileContentTests(InventoryDatabaseFixture db) : IClassFixture<InventoryDatabaseFixture>
{
    public static TheoryData<string, string?, string, string> Refused => new()
    {
        { "NUL in the id", "ord\0er", "SKU", "order id contains a control character" },
        { "newline in the id", "ord\ner", "SKU", "order id contains a control character" },
        { "NUL in a SKU", "ok-id", "SK\0U", "contains a control character" },
        { "escape in a SKU", "ok-id", "SK\u001bU", "contains a control character" },
        { "SKU too long", "ok-id", new string('S', OrderValidation.MaxSkuLength + 1), $"longer than {OrderValidation.MaxSkuLength}" },
        { "id too long", new string('o', OrderValidation.MaxIdLength + 1), "SKU", $"longer than {OrderValidation.MaxIdLength}" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void The_validator_refuses_it_with_a_printable_reason(string what, string? id, string sku, string reason)
    {
        var (lines, problem) = OrderValidation.Validate(id, [new OrderLine { Sku = sku, Quantity = 1 }]);
        Assert.Null(lines);
        Assert.NotNull(problem);
        Assert.Contains(reason, problem, StringComparison.Ordinal);
        Assert.DoesNotContain(problem, c => char.IsControl(c) || char.IsSurrogate(c));
        Assert.True(problem.Length < 300, $"{what}: the reason is {problem.Length} characters");
    }

    [Theory]
    [InlineData("ok", true)]
    [InlineData("with space and ünïcødé 🛒", true)]
    [InlineData("tab\there", false)]
    [InlineData("nul\0", false)]
    [InlineData("del\u007f", false)]
    [InlineData("   ", false)]
    public void Usable_ids_are_non_blank_printable_and_bounded(string id, bool usable) => Assert.Equal(usable, OrderValidation.IsUsableId(id));

    [Fact]
    public void A_lone_surrogate_has_no_UTF8_form_and_is_refused_anywhere()
    {
        // Built here, not in theory data: xunit's serialization of test data would replace a lone surrogate.
        var lone = "ord" + (char)0xD800 + "er";
        OrderLine[] lines = [new() { Sku = "SKU", Quantity = 1 }];
        Assert.False(OrderValidation.IsUsableId(lone));
        Assert.Contains("order id contains a control character or an invalid one", OrderValidation.Validate(lone, lines).Problem, StringComparison.Ordinal);
        Assert.Contains("contains a control character or an invalid one", OrderValidation.Validate("id", [new OrderLine { Sku = lone, Quantity = 1 }]).Problem, StringComparison.Ordinal);
        Assert.Equal("ord\uFFFDer", OrderValidation.Printable(lone, 50));
        Assert.Equal("ok " + (char)0xD83D + (char)0xDED2, OrderValidation.Printable("ok " + (char)0xD83D + (char)0xDED2, 50));
    }

    [Fact]
    public void The_customer_id_is_checked_at_intake()
    {
        OrderLine[] lines = [new() { Sku = "SKU", Quantity = 1 }];
        Assert.Contains("customer id is longer", OrderValidation.Validate("id", new string('c', OrderValidation.MaxCustomerIdLength + 1), lines).Problem, StringComparison.Ordinal);
        Assert.Contains("customer id contains", OrderValidation.Validate("id", "c\0c", lines).Problem, StringComparison.Ordinal);
        Assert.Null(OrderValidation.Validate("id", "plain customer", lines).Problem);
    }

    [Fact]
    public async Task A_batch_with_a_nul_in_one_order_commits_its_good_orders_and_rejects_that_one()
    {
        var committer = await CommitterAsync(db);
        await SeedAsync(db, 100, "HC-A");
        var prefix = "hc-" + Guid.NewGuid().ToString("N")[..6];
        CommitInventory[] batch =
        [
            Order(prefix + "-good-1", ("HC-A", 1)),
            Order(prefix + "-nul-sku", ("HC-\0A", 1)),
            Order(prefix + "-nul\0id", ("HC-A", 1)),
            Order(prefix + "-good-2", ("HC-A", 2)),
        ];
        await ReceiveAsync(db, batch[0], batch[3]);

        var decisions = await committer.CommitAsync(new FenceToken(1, 1), "n1", batch);

        Assert.True(decisions[0].Confirmed);
        Assert.True(decisions[3].Confirmed);
        Assert.Equal((false, RejectionReason.Invalid), (decisions[1].Confirmed, decisions[1].Reason));
        Assert.Equal((false, RejectionReason.Invalid, false), (decisions[2].Confirmed, decisions[2].Reason, decisions[2].Recorded));
        Assert.Equal(97, await OnHandAsync(db, "HC-A"));
        Assert.Equal(1, await CountAsync(db, "inventory_commits", $"order_id = '{prefix}-nul-sku' AND outcome = 'Rejected'"));
    }

    [Fact]
    public async Task An_order_refused_at_intake_is_stored_bounded_and_printable_and_a_resend_is_a_duplicate()
    {
        var store = new OrderIntakeStore(db.DataSource);
        var id = "hc-bounded-" + Guid.NewGuid().ToString("N")[..6];
        var lines = Enumerable.Range(0, 5000).Select(i => new OrderLine { Sku = i == 7 ? "bad\0sku" + new string('x', 500) : $"SKU-{i}", Quantity = 1 }).ToList();
        var order = new OrderSubmitted { OrderId = id, CustomerId = "cust\0omer" + new string('c', 1000), Lines = lines, SubmittedAt = DateTimeOffset.UtcNow };
        var (_, problem) = OrderValidation.Validate(order.OrderId, order.CustomerId, order.Lines);
        Assert.NotNull(problem);

        var recorded = await store.RecordRejectedAsync(order, RejectionReason.Invalid, problem, "n1");
        var again = await store.RecordRejectedAsync(order, RejectionReason.Invalid, problem, "n2");

        Assert.Equal(ReceiveOutcome.Recorded, recorded.Outcome);
        Assert.Equal(ReceiveOutcome.Duplicate, again.Outcome);
        Assert.Equal(OrderValidation.MaxStoredRejectedLines, await ScalarAsync<int>(db, $"SELECT jsonb_array_length(lines) FROM orders WHERE order_id = '{id}'"));
        var customer = await ScalarAsync<string>(db, $"SELECT customer_id FROM orders WHERE order_id = '{id}'");
        Assert.True(customer!.Length <= OrderValidation.MaxCustomerIdLength + 1, $"customer id stored with {customer.Length} characters");
        Assert.DoesNotContain('\0', customer);
        Assert.True(await ScalarAsync<int>(db, $"SELECT octet_length(lines::text) FROM orders WHERE order_id = '{id}'") < 20_000, "the stored lines are bounded");
    }
}
