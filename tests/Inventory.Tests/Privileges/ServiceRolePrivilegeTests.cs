using Npgsql;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Intake;
using Pipeline.Testing;
using static Pipeline.Inventory.Tests.Commit.CommitTestKit;

namespace Pipeline.Inventory.Tests.Privileges;

/// <summary>
/// The service role (what <c>migrate --grant-to</c> grants, as replicas run in production) can do a replica's work and
/// nothing else: every statement a compromised or buggy replica could use to rewrite history, oversell by hand or move the
/// fence is refused by PostgreSQL itself.
/// </summary>
public sealed class ServiceRolePrivilegeTests(InventoryDatabaseFixture db) : IClassFixture<InventoryDatabaseFixture>
{
    public static TheoryData<string, string> Forbidden => new()
    {
        { "delete ledger rows", "DELETE FROM inventory_commits" },
        { "change a ledger row", "UPDATE inventory_commits SET outcome = 'Confirmed'" },
        { "delete audit rows", "DELETE FROM fence_rejections" },
        { "change an audit row", "UPDATE fence_rejections SET node_id = 'someone'" },
        { "rewrite the election history", "UPDATE leader_successions SET cause = 'graceful'" },
        { "delete the election history", "DELETE FROM leader_successions" },
        { "lower the fence", "UPDATE leader_fence SET generation = 0, sequence = 0" },
        { "add a fence row", "INSERT INTO leader_fence (resource, generation, sequence, holder) VALUES ('x', 0, 0, '')" },
        { "delete the fence", "DELETE FROM leader_fence" },
        { "read the fence resets", "SELECT * FROM fence_resets" },
        { "write a fence reset", "INSERT INTO fence_resets (resource, operator, from_generation, from_sequence, to_generation, to_sequence, reason) VALUES ('x', 'x', 0, 0, 0, 0, 'x')" },
        { "rewrite an order's content", "UPDATE orders SET lines = '[]'::jsonb" },
        { "change an order's hash", "UPDATE orders SET content_hash = 'x'" },
        { "delete orders", "DELETE FROM orders" },
        { "add stock by hand", "INSERT INTO stock (sku, on_hand, initial) VALUES ('FREE', 1000, 1000)" },
        { "rewrite the initial stock", "UPDATE stock SET initial = 0" },
        { "delete stock", "DELETE FROM stock" },
        { "truncate the ledger", "TRUNCATE inventory_commits" },
        { "drop a table", "DROP TABLE stock" },
        { "alter a table", "ALTER TABLE stock ADD COLUMN x int" },
        { "create a table", "CREATE TABLE shadow (x int)" },
        { "replace the fence function", "CREATE OR REPLACE FUNCTION fence_bump(bigint, bigint, text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true'" },
    };

    [Theory]
    [MemberData(nameof(Forbidden))]
    public async Task The_service_role_is_refused(string what, string sql)
    {
        await using var connection = new NpgsqlConnection(db.ServiceConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var refused = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
        Assert.True(refused.SqlState == PostgresErrorCodes.InsufficientPrivilege,
            $"{what}: expected insufficient_privilege (42501), got {refused.SqlState}: {refused.MessageText}");
    }

    [Fact]
    public async Task The_service_role_records_commits_audits_and_raises_the_fence_as_a_replica_does()
    {
        await SeedAsync(db, 10, "PRIV-A");
        var resource = await NewFenceAsync(db);
        await using var service = InventoryDataSource.Create(db.ServiceConnectionString);
        var order = new OrderSubmitted { OrderId = "priv-1", CustomerId = "c", Lines = [new OrderLine { Sku = "PRIV-A", Quantity = 2 }], SubmittedAt = DateTimeOffset.UtcNow };
        Assert.Equal(ReceiveOutcome.Recorded, (await new OrderIntakeStore(service).RecordReceivedAsync(order, order.Lines, "n1")).Outcome);

        var committer = new FencedCommitter(service, new FencedCommitterOptions { Resource = resource });
        Assert.True((await committer.AcquireFenceAsync(new FenceToken(5, 1), "n1")).Acquired);
        var decisions = await committer.CommitAsync(new FenceToken(5, 1), "n1", [Order("priv-1", ("PRIV-A", 2))]);
        Assert.True(decisions[0].Confirmed);
        Assert.False((await committer.AcquireFenceAsync(new FenceToken(4, 9), "stale")).Acquired); // refused and audited
        await Assert.ThrowsAsync<StaleLeaderException>(() => committer.CommitAsync(new FenceToken(4, 9), "stale", [Order("priv-2", ("PRIV-A", 1))]));

        Assert.Equal(8, await OnHandAsync(db, "PRIV-A"));
        Assert.Equal(2L, await CountAsync(db, "fence_rejections", $"resource = '{resource}'"));
        Assert.Equal((new FenceToken(5, 1), "n1"), await FenceAsync(db, resource));
        await committer.WarmUpAsync();
    }
}
