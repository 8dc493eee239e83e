using Microsoft.EntityFrameworkCore;
using Npgsql;
using Pipeline.Inventory.Model;

namespace Pipeline.Inventory;

/// <summary>Schema and seed operations: migrations (as the owner role), stock seeding.</summary>
public static class InventoryDatabase
{
    /// <summary>Applies every pending EF Core migration. Idempotent.</summary>
    public static async Task MigrateAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        var context = new InventoryDbContext(new DbContextOptionsBuilder<InventoryDbContext>().UseNpgsql(connectionString).Options);
        await using var scope = context.ConfigureAwait(false);
        await context.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Gives the service role exactly what a replica needs and nothing more, in the database <paramref name="ownerConnectionString"/>
    /// names (run as the schema's owner, after the migrations): read every table; record orders and update only their
    /// decision columns; write ledger rows and audit rows but never change or delete them; update only the stock level; raise
    /// the fence only through <c>fence_bump</c>. Whatever it held before is revoked first, so the grants are exactly these.
    /// </summary>
    public static async Task GrantServiceRoleAsync(string ownerConnectionString, string role, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(role);
        var connection = new NpgsqlConnection(ownerConnectionString);
        await using var scope = connection.ConfigureAwait(false);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        var r = new NpgsqlCommandBuilder().QuoteIdentifier(role);
        using var grant = new NpgsqlCommand($"""
            REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {r};
            REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {r};
            REVOKE ALL ON FUNCTION fence_bump(bigint, bigint, text, text) FROM {r};
            GRANT USAGE ON SCHEMA public TO {r};
            GRANT SELECT ON stock, orders, inventory_commits, leader_fence, fence_rejections, leader_successions TO {r};
            GRANT INSERT, UPDATE (status, reason, detail, decided_at) ON orders TO {r};
            GRANT UPDATE (on_hand, updated_at) ON stock TO {r};
            GRANT INSERT ON inventory_commits, fence_rejections, leader_successions TO {r};
            GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {r};
            GRANT EXECUTE ON FUNCTION fence_bump(bigint, bigint, text, text) TO {r};
            """, connection);
        await grant.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Adds <paramref name="quantity"/> units of each SKU (creating missing ones); initial grows with on_hand, so
    /// initial = on_hand + confirmed quantity keeps holding.</summary>
    public static async Task SeedStockAsync(NpgsqlDataSource dataSource, IEnumerable<string> skus, int quantity, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentOutOfRangeException.ThrowIfNegative(quantity);
        var list = skus.ToArray();
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var scope = connection.ConfigureAwait(false);
        using var command = new NpgsqlCommand(
            "INSERT INTO stock (sku, on_hand, initial) SELECT s, $2, $2 FROM unnest($1::text[]) AS s " +
            "ON CONFLICT (sku) DO UPDATE SET on_hand = stock.on_hand + excluded.on_hand, initial = stock.initial + excluded.initial, updated_at = now()", connection);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = list });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = quantity });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>SKU names the CLI and tests use: SKU-00001 ...</summary>
    public static IEnumerable<string> SkuNames(int count) => Enumerable.Range(1, count).Select(i => $"SKU-{i:00000}");
}
