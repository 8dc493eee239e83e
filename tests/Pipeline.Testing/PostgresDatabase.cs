using System.Globalization;
using Npgsql;
using Xunit;

namespace Pipeline.Testing;

/// <summary>
/// A fresh PostgreSQL database for one test class, cloned from a template (<c>CREATE DATABASE ... TEMPLATE</c>, a file copy,
/// much faster than building a schema per class) and dropped afterwards. Use as <c>IClassFixture&lt;PostgresDatabase&gt;</c>,
/// or derive to give the template a schema (<see cref="TemplateKey"/>, <see cref="InitializeTemplateAsync"/>).
/// The database lives on the shared server of <see cref="TestServices"/> unless <see cref="ServerConnectionString"/> is given
/// (<c>new InventoryDatabaseFixture { ServerConnectionString = privatePostgres.ConnectionString }</c>) or a derived fixture
/// overrides <see cref="GetServerConnectionStringAsync"/>; each server gets its own template and its own orphan sweep.
/// </summary>
public class PostgresDatabase : IAsyncLifetime
{
    private static readonly SemaphoreSlim CleanupGate = new(1, 1);
    private static readonly HashSet<string> CleanedServers = [];
    private string serverConnectionString = "";

    /// <summary>The database's name (<c>pt_{pid}_{random}</c>).</summary>
    public string Name { get; } = TestResourceNames.New();

    /// <summary>Connection string of this class's database.</summary>
    public string ConnectionString { get; private set; } = "";

    /// <summary>Connection string of the server's maintenance database, as a role with CREATEDB. Set it at construction to
    /// use a server of your own (a <see cref="PrivatePostgres"/>); left empty, <see cref="InitializeAsync"/> fills it in.</summary>
    public string ServerConnectionString
    {
        get => serverConnectionString;
        init => serverConnectionString = value;
    }

    /// <summary>
    /// Identifies the template's contents; a different key is a different template. Derived fixtures that build a schema
    /// must change the key whenever the schema changes (a hash of the migrations, say) so no stale template is reused.
    /// </summary>
    protected virtual string TemplateKey => "empty";

    /// <summary>The server to create the database on when <see cref="ServerConnectionString"/> was not given: the shared one.</summary>
    protected virtual async Task<string> GetServerConnectionStringAsync() => (await TestServices.GetAsync().ConfigureAwait(false)).Postgres;

    /// <summary>Builds the template's contents once per key and server; the connection is to the template database.</summary>
    protected virtual Task InitializeTemplateAsync(NpgsqlConnection connection) => Task.CompletedTask;

    public NpgsqlConnection OpenConnection()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        connection.Open();
        return connection;
    }

    public async Task<NpgsqlConnection> OpenConnectionAsync(CancellationToken cancellationToken = default)
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    public async Task InitializeAsync()
    {
        if (serverConnectionString.Length == 0)
        {
            serverConnectionString = await GetServerConnectionStringAsync().ConfigureAwait(false);
        }

        await RemoveOrphansOnceAsync().ConfigureAwait(false);

        var template = "pipeline_tpl_" + TemplateKey;
        await EnsureTemplateAsync(template).ConfigureAwait(false);

        await using (var admin = await OpenServerAsync().ConfigureAwait(false))
        {
            await ExecuteAsync(admin, $"CREATE DATABASE \"{Name}\" TEMPLATE \"{template}\"").ConfigureAwait(false);
        }

        ConnectionString = new NpgsqlConnectionStringBuilder(ServerConnectionString) { Database = Name }.ConnectionString;
    }

    public virtual async Task DisposeAsync()
    {
        if (ConnectionString.Length == 0)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        await using var admin = await OpenServerAsync().ConfigureAwait(false);

        // WITH (FORCE) cannot end an autovacuum worker that has just started on the database: retry for a while, and if it
        // still will not go, leave it to the orphan sweep of a later run rather than fail the tests that used it.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await ExecuteAsync(admin, $"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)").ConfigureAwait(false);
                return;
            }
            catch (PostgresException) when (attempt < 20)
            {
                await Task.Delay(250).ConfigureAwait(false);
            }
            catch (PostgresException ex)
            {
                Console.Error.WriteLine($"Could not drop test database {Name} ({ex.MessageText}); a later run removes it.");
                return;
            }
        }
    }

    private async Task EnsureTemplateAsync(string template)
    {
        await using var admin = await OpenServerAsync().ConfigureAwait(false);

        // Test processes run in parallel: one builds the template while the others wait on the advisory lock.
        await ExecuteAsync(admin, "SELECT pg_advisory_lock(7236001)").ConfigureAwait(false);
        try
        {
            await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @n AND datistemplate", admin);
            exists.Parameters.AddWithValue("n", template);
            if (await exists.ExecuteScalarAsync().ConfigureAwait(false) is not null)
            {
                return;
            }

            await ExecuteAsync(admin, $"DROP DATABASE IF EXISTS \"{template}\" WITH (FORCE)").ConfigureAwait(false);
            await ExecuteAsync(admin, $"CREATE DATABASE \"{template}\" TEMPLATE template0").ConfigureAwait(false);
            var builder = new NpgsqlConnectionStringBuilder(ServerConnectionString) { Database = template, Pooling = false };
            await using (var connection = new NpgsqlConnection(builder.ConnectionString))
            {
                await connection.OpenAsync().ConfigureAwait(false);
                await InitializeTemplateAsync(connection).ConfigureAwait(false);
            }

            // Only a finished template is marked as one, so a crash half-way leaves nothing that looks usable.
            await ExecuteAsync(admin, $"ALTER DATABASE \"{template}\" WITH IS_TEMPLATE true").ConfigureAwait(false);
        }
        finally
        {
            await ExecuteAsync(admin, "SELECT pg_advisory_unlock(7236001)").ConfigureAwait(false);
        }
    }

    private async Task RemoveOrphansOnceAsync()
    {
        await CleanupGate.WaitAsync().ConfigureAwait(false);
        try
        {
            // Once per server and process: the key is where the server listens, not which database or role we log in with.
            var builder = new NpgsqlConnectionStringBuilder(ServerConnectionString);
            var server = string.Create(CultureInfo.InvariantCulture, $"{builder.Host}:{builder.Port}");
            if (CleanedServers.Contains(server))
            {
                return;
            }

            await using var admin = await OpenServerAsync().ConfigureAwait(false);
            var names = new List<string>();
            await using (var list = new NpgsqlCommand($"SELECT datname FROM pg_database WHERE datname LIKE '{TestResourceNames.Prefix}%'", admin))
            await using (var reader = await list.ExecuteReaderAsync().ConfigureAwait(false))
            {
                while (await reader.ReadAsync().ConfigureAwait(false))
                {
                    names.Add(reader.GetString(0));
                }
            }

            foreach (var name in names.Where(TestResourceNames.IsOrphan))
            {
                try
                {
                    await ExecuteAsync(admin, $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").ConfigureAwait(false);
                }
                catch (PostgresException ex)
                {
                    // A dead run's replica still ending (its backends are another role's, which FORCE may not end): this
                    // run's tests do not need the orphan gone; a later sweep removes it.
                    Console.Error.WriteLine($"Could not drop orphan test database {name} ({ex.MessageText}); a later run removes it.");
                }
            }

            CleanedServers.Add(server);
        }
        finally
        {
            CleanupGate.Release();
        }
    }

    private async Task<NpgsqlConnection> OpenServerAsync()
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ServerConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        return connection;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
    }
}
