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
/// migrations (the key is a hash of their ids, so a new migration makes a new template), the service role granted what a
/// replica needs (<see cref="InventoryDatabase.GrantServiceRoleAsync"/>). Tests work as the owner
/// (<see cref="PostgresDatabase.ConnectionString"/>); replicas run as the service role (<see cref="ServiceConnectionString"/>).
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

    /// <summary>With the grants: a change of the grants must change the key too.</summary>
    protected override string TemplateKey => "inventory_g2_" + Key.Value;

    /// <summary>This database as the least-privilege service role, as replicas connect in production.</summary>
    public string ServiceConnectionString => new NpgsqlConnectionStringBuilder(ConnectionString)
    {
        Username = TestIdentities.ServiceRole,
        Password = TestIdentities.ServiceRolePassword,
    }.ConnectionString;

    /// <summary>A data source on this class's database with the commit path's settings.</summary>
    public NpgsqlDataSource DataSource => dataSource ??= InventoryDataSource.Create(ConnectionString);

    /// <summary>The first column of the first row of <paramref name="sql"/> on this database.</summary>
    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync().ConfigureAwait(false))!;
    }

    /// <summary>The application_name of the replicas' crash-signal connections (the product's
    /// <c>AdvisoryLockCrashSignal.ApplicationName</c>; this library does not reference the service).</summary>
    public const string CrashSignalApplication = "pipeline-crash-signal";

    /// <summary>Terminates the backend holding a leader's crash signal in this database, as the service role (which may end
    /// its own backends): the release a dead process, or a cut link, causes. How many it terminated.</summary>
    public async Task<long> TerminateCrashSignalHolderAsync()
    {
        await using var connection = new NpgsqlConnection(ServiceConnectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            "SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid " +
            $"WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = '{CrashSignalApplication}' AND a.datname = current_database()", connection);
        return (long)(await command.ExecuteScalarAsync().ConfigureAwait(false))!;
    }

    /// <summary>How many sessions of this database are queued on a crash signal (standbys armed on the leader's).</summary>
    public Task<long> CrashSignalWaitersAsync() => ScalarAsync<long>(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid " +
        $"WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = '{CrashSignalApplication}' AND a.datname = current_database()");

    /// <summary>A data source with other committer settings (timeouts).</summary>
    public NpgsqlDataSource CreateDataSource(FencedCommitterOptions options) => InventoryDataSource.Create(ConnectionString, options);

    /// <summary>A fence row of its own (token 0:0), so committers of different tests sharing this database do not fence each
    /// other off; its resource name.</summary>
    public async Task<string> NewFenceAsync()
    {
        var resource = "test-" + Guid.NewGuid().ToString("N");
        await using var command = DataSource.CreateCommand("INSERT INTO leader_fence (resource, generation, sequence, holder) VALUES ($1, 0, 0, '')");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = resource });
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        return resource;
    }

    protected override async Task InitializeTemplateAsync(NpgsqlConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var template = new NpgsqlConnectionStringBuilder(ServerConnectionString) { Database = connection.Database, Pooling = false }.ConnectionString;
        await InventoryDatabase.MigrateAsync(template).ConfigureAwait(false);
        try
        {
            await InventoryDatabase.GrantServiceRoleAsync(template, TestIdentities.ServiceRole).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedObject)
        {
            throw new InvalidOperationException(
                $"The PostgreSQL role {TestIdentities.ServiceRole} is missing on {connection.Host}:{connection.Port}: `scripts/services up` provisions it.", ex);
        }
    }

    public override async Task DisposeAsync()
    {
        if (dataSource is not null)
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }
}
