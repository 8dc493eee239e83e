using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Pipeline.Inventory;
using Pipeline.Inventory.Commit;
using Pipeline.Inventory.Model;

namespace Pipeline.Testing;

/// <summary>
/// A database of its own for one test class, with the inventory schema: cloned from a template migrated once per set of
/// migrations (the key is a hash of their ids, so a new migration makes a new template).
/// </summary>
public class InventoryDatabaseFixture : PostgresDatabase
{
    private static readonly Lazy<string> Key = new(() =>
    {
        using var context = new InventoryDbContext(new DbContextOptionsBuilder<InventoryDbContext>().UseNpgsql("Host=unused").Options);
        var ids = string.Join(",", context.Database.GetMigrations());
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(ids)))[..16].ToLowerInvariant();
    });

    private NpgsqlDataSource? dataSource;

    protected override string TemplateKey => "inventory_" + Key.Value;

    /// <summary>A data source on this class's database with the commit path's settings.</summary>
    public NpgsqlDataSource DataSource => dataSource ??= InventoryDataSource.Create(ConnectionString);

    /// <summary>A data source with other committer settings (timeouts, test-only switches).</summary>
    public NpgsqlDataSource CreateDataSource(FencedCommitterOptions options) => InventoryDataSource.Create(ConnectionString, options);

    protected override async Task InitializeTemplateAsync(NpgsqlConnection connection) =>
        await InventoryDatabase.MigrateAsync(new NpgsqlConnectionStringBuilder(ServerConnectionString) { Database = connection.Database, Pooling = false }.ConnectionString).ConfigureAwait(false);

    public override async Task DisposeAsync()
    {
        if (dataSource is not null)
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }
}
