using Npgsql;
using Pipeline.Inventory;

namespace Pipeline.Bench.Commit;

/// <summary>
/// The commit scenario's own database: created fresh (pipeline_bench_RANDOM, as the pipeline role, which may CREATEDB),
/// migrated with <see cref="InventoryDatabase.MigrateAsync"/>, seeded with stock, and dropped at the end, also after a
/// failure or Ctrl-C.
/// </summary>
internal sealed class CommitDatabase : IAsyncDisposable
{
    private readonly string adminConnectionString;

    private CommitDatabase(string adminConnectionString, string name, string connectionString)
    {
        this.adminConnectionString = adminConnectionString;
        Name = name;
        ConnectionString = connectionString;
    }

    public string Name { get; }

    /// <summary>The new database's connection string (the services' one with Database replaced).</summary>
    public string ConnectionString { get; }

    /// <summary>$PIPELINE_POSTGRES (set by `scripts/services env`), else scripts/services' default: its own cluster on 5433.</summary>
    public static string ServicesConnectionString =>
        Environment.GetEnvironmentVariable("PIPELINE_POSTGRES") is { Length: > 0 } pg
            ? pg
            : "Host=127.0.0.1;Port=5433;Username=pipeline;Password=pipeline;Database=pipeline";

    public static async Task<CommitDatabase> CreateAsync(string servicesConnectionString, CancellationToken cancellationToken)
    {
        var admin = new NpgsqlConnectionStringBuilder(servicesConnectionString) { Pooling = false };
        var name = "pipeline_bench_" + Guid.NewGuid().ToString("N")[..10];
        await using (var connection = new NpgsqlConnection(admin.ConnectionString))
        {
            await connection.OpenAsync(cancellationToken);
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        var database = new NpgsqlConnectionStringBuilder(servicesConnectionString) { Database = name };
        return new CommitDatabase(admin.ConnectionString, name, database.ConnectionString);
    }

    /// <summary>Schema by the product's own migrations, then <paramref name="skuCount"/> SKUs with <paramref name="quantity"/> each.</summary>
    public async Task PrepareAsync(int skuCount, int quantity, CancellationToken cancellationToken)
    {
        await InventoryDatabase.MigrateAsync(ConnectionString, cancellationToken);
        await using var dataSource = NpgsqlDataSource.Create(ConnectionString);
        await InventoryDatabase.SeedStockAsync(dataSource, InventoryDatabase.SkuNames(skuCount), quantity, cancellationToken);
    }

    /// <summary>
    /// Records <paramref name="count"/> orders PREFIX0..PREFIX(count-1) as Received, as the intake would have: one row each
    /// with 1-3 lines of JSON and a content hash. Server-side in one statement, the same rows for our committer and pgbench.
    /// </summary>
    public async Task RecordOrdersAsync(string prefix, int count, int skuCount, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var insert = new NpgsqlCommand(
            """
            INSERT INTO orders (order_id, customer_id, lines, content_hash, status, received_by)
            SELECT $1 || g, 'customer-' || (g % 5000), l.lines, upper(encode(sha256(convert_to(l.lines::text, 'UTF8')), 'hex')), 'Received', 'bench'
            FROM generate_series(0, $2 - 1) g
            CROSS JOIN LATERAL (
                SELECT jsonb_agg(jsonb_build_object('sku', 'SKU-' || lpad((1 + (hashint8(g * 8 + i) & 2147483647) % $3)::text, 5, '0'), 'quantity', 1 + i % 3)) AS lines
                FROM generate_series(1, 1 + (g % 3)::int) i) l
            """, connection);
        insert.CommandTimeout = 0;
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = prefix });
        insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = count });
        insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = skuCount });
        await insert.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>VACUUM ANALYZE of the commit path's tables, so every measured run starts from the same kind of state:
    /// statistics current, hint bits set on the freshly recorded orders, dead rows of the previous run gone.</summary>
    public async Task VacuumAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var vacuum = new NpgsqlCommand("VACUUM (ANALYZE) stock, orders, inventory_commits, leader_fence", connection) { CommandTimeout = 0 };
        await vacuum.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>How many ledger rows and Confirmed orders carry ids starting with <paramref name="prefix"/>.</summary>
    public async Task<(long Ledger, long Confirmed)> CountAsync(string prefix, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var count = new NpgsqlCommand(
            "SELECT (SELECT count(*) FROM inventory_commits WHERE order_id >= $1 AND order_id < $1 || '~'), " +
            "(SELECT count(*) FROM orders WHERE order_id >= $1 AND order_id < $1 || '~' AND status = 'Confirmed')", connection);
        count.Parameters.Add(new NpgsqlParameter<string> { TypedValue = prefix });
        await using var reader = await count.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>The server's version and the settings that bound a commit's cost (fsync, synchronous_commit, ...).</summary>
    public async Task<Dictionary<string, string>> SettingsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var query = new NpgsqlCommand(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name IN " +
            "('server_version', 'fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers', 'max_wal_size', 'autovacuum', 'jit', 'ssl') ORDER BY name", connection);
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            settings[reader.GetString(0)] = reader.GetString(1);
        }

        return settings;
    }

    public async Task<long> SizeBytesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var size = new NpgsqlCommand("SELECT pg_database_size(current_database())", connection);
        return (long)(await size.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>The postmaster's pid, from our backend's parent (for <see cref="ServerCpu"/>); null when not local.</summary>
    public async Task<int?> PostmasterPidAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var pid = new NpgsqlCommand("SELECT pg_backend_pid()", connection);
        var backend = (int)(await pid.ExecuteScalarAsync(cancellationToken))!;
        return ServerCpu.PostmasterOf(backend);
    }

    /// <summary>
    /// Drops the database once our pools are closed. A plain DROP DATABASE, retried: it stops an autovacuum worker on the
    /// database itself, which WITH (FORCE) may not (the worker belongs to the superuser: "must be a member of the role
    /// whose process is being terminated"); FORCE is the last try, for a connection of ours left open.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        for (var attempt = 1; ; attempt++)
        {
            var force = attempt == 5;
            try
            {
                await using var connection = new NpgsqlConnection(adminConnectionString);
                await connection.OpenAsync(CancellationToken.None);
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Name}{(force ? " WITH (FORCE)" : "")}", connection) { CommandTimeout = 120 };
                await drop.ExecuteNonQueryAsync(CancellationToken.None);
                Console.WriteLine($"dropped database {Name}");
                return;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ObjectInUse && !force)
            {
                await Task.Delay(TimeSpan.FromSeconds(attempt));
            }
            catch (NpgsqlException ex)
            {
                await Console.Error.WriteLineAsync($"bench: could not drop database {Name}: {ex.Message} (drop it by hand)");
                return;
            }
        }
    }

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }
}
