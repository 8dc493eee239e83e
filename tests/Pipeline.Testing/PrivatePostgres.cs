using System.Diagnostics;
using System.Globalization;
using Npgsql;
using Xunit;

namespace Pipeline.Testing;

/// <summary>How <see cref="PrivatePostgres"/> takes its server down.</summary>
public enum PostgresShutdown
{
    /// <summary>SIGINT, what <c>pg_ctl stop -m fast</c> sends: sessions end, a shutdown checkpoint is written, no recovery at start.</summary>
    Fast,

    /// <summary>SIGQUIT, what <c>pg_ctl stop -m immediate</c> sends: every process quits at once, the next start runs crash recovery.</summary>
    Immediate,

    /// <summary>SIGKILL to the postmaster and each of its children: a crash with no chance to react; the next start recovers.</summary>
    Kill,
}

/// <summary>
/// A PostgreSQL server of its own for fault tests, so stopping, killing and restarting it never disturbs the shared server
/// every other test uses: a fresh cluster of the installed PostgreSQL (newest version under /usr/lib/postgresql, as
/// <c>scripts/services</c> picks it) in a temporary directory, listening on 127.0.0.1 on a free port and on a unix socket in
/// that directory. <see cref="ConnectionString"/> logs in as <see cref="UserName"/> (password, CREATEDB, no superuser) the way
/// the services do; <see cref="AdminConnectionString"/> is the superuser over the socket (trust). Every process it starts is
/// stopped on dispose, also when a test fails, and killed at process exit; dispose deletes the directory.
/// </summary>
/// <remarks>
/// Settings are for a fast test server: <c>fsync=off</c> and <c>full_page_writes=off</c> only lose data when the operating
/// system crashes, which no test does; a killed postmaster loses nothing because its writes already reached the kernel.
/// <c>synchronous_commit</c> stays on: with it off a killed server would forget transactions it acknowledged.
/// </remarks>
public sealed class PrivatePostgres : IAsyncLifetime, IAsyncDisposable
{
    public const string UserName = "pipeline";
    public const string Password = "pipeline";
    private const string OsUser = "postgres";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);
    private readonly string directory = Path.Combine(System.IO.Directory.Exists("/var/tmp") ? "/var/tmp" : Path.GetTempPath(), TestResourceNames.New());
    private string binaries = "";
    private Process? postmaster;

    /// <summary>Creates, starts and returns a server; the caller disposes it (<c>await using</c>).</summary>
    public static async Task<PrivatePostgres> StartNewAsync()
    {
        var server = new PrivatePostgres();
        try
        {
            await server.InitializeAsync().ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The TCP port on 127.0.0.1; it stays the same across restarts.</summary>
    public int Port { get; private set; }

    /// <summary>Holds the data directory, the unix socket and the log.</summary>
    public string Directory => directory;

    public string DataDirectory => Path.Combine(directory, "data");

    /// <summary>The server's stderr, appended across restarts.</summary>
    public string LogFile => Path.Combine(directory, "postgres.log");

    /// <summary>The <c>postgres</c> maintenance database over TCP as <see cref="UserName"/>: what <see cref="PostgresDatabase"/> needs.</summary>
    public string ConnectionString { get; private set; } = "";

    /// <summary>The superuser over the unix socket (trust), for what the test role may not do (pg_terminate_backend of others).</summary>
    public string AdminConnectionString => new NpgsqlConnectionStringBuilder
    {
        Host = directory,
        Port = Port,
        Username = OsUser,
        Database = "postgres",
        Pooling = false,
    }.ConnectionString;

    public bool IsRunning => postmaster is { } process && ProcessTable.IsAlive(process.Id);

    /// <summary>The postmaster's process id; throws while the server is down.</summary>
    public int ProcessId => postmaster is { } process && ProcessTable.IsAlive(process.Id)
        ? process.Id
        : throw new InvalidOperationException($"The private PostgreSQL server on port {Port} is not running.");

    /// <summary>The postmaster and its live children (backends, checkpointer, walwriter, ...); empty while the server is down.</summary>
    public IReadOnlyList<int> ServerProcessIds() => IsRunning ? [postmaster!.Id, .. ProcessTable.ChildrenOf(postmaster.Id)] : [];

    public async Task InitializeAsync()
    {
        binaries = FindBinaries();
        Port = FreePorts.Take(1)[0];
        AppDomain.CurrentDomain.ProcessExit += KillOnExit;

        // initdb and postgres refuse to run as root: the directory belongs to the postgres OS user, who runs both.
        await RunAsync("install", ["-d", "-o", OsUser, "-g", OsUser, "-m", "0700", directory]).ConfigureAwait(false);
        await RunAsync("setpriv", [.. AsPostgres(), Path.Combine(binaries, "initdb"), "-D", DataDirectory, "-U", OsUser, "-E", "UTF8", "--locale=C",
            "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "--no-instructions"]).ConfigureAwait(false);
        await File.AppendAllLinesAsync(Path.Combine(DataDirectory, "postgresql.conf"),
        [
            "# PrivatePostgres (tests/Pipeline.Testing): a throwaway test server, see the class comment.",
            "listen_addresses = '127.0.0.1'",
            string.Create(CultureInfo.InvariantCulture, $"port = {Port}"),
            $"unix_socket_directories = '{directory}'",
            "max_connections = 200",
            "shared_buffers = 64MB",
            "fsync = off",
            "full_page_writes = off",
            "logging_collector = off",
            "log_line_prefix = '%m [%p] %q%u@%d '",
        ]).ConfigureAwait(false);

        await StartAsync().ConfigureAwait(false);

        await using (var admin = new NpgsqlConnection(AdminConnectionString))
        {
            await admin.OpenAsync().ConfigureAwait(false);
            await using var create = new NpgsqlCommand(
                $"CREATE ROLE {UserName} LOGIN CREATEDB PASSWORD '{Password}'; " +
                $"CREATE ROLE {TestIdentities.ServiceRole} LOGIN PASSWORD '{TestIdentities.ServiceRolePassword}'", admin);
            await create.ExecuteNonQueryAsync().ConfigureAwait(false);
        }

        ConnectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = UserName,
            Password = Password,
            Database = "postgres",
        }.ConnectionString;
    }

    /// <summary>Starts the server on the same port and data directory; returns once it accepts connections (after any crash recovery).</summary>
    public async Task StartAsync()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"The private PostgreSQL server on port {Port} is already running (pid {postmaster!.Id}).");
        }

        // setpriv execs (runuser forks and waits), so through sh's exec the process we hold is the postmaster itself.
        // The shell redirects its output, so the log does not depend on this process reading a pipe.
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"exec setpriv {string.Join(' ', AsPostgres())} '{binaries}/postgres' -D '{DataDirectory}' >>'{LogFile}' 2>&1");
        postmaster?.Dispose();
        postmaster = Process.Start(info) ?? throw new InvalidOperationException("Could not start /bin/sh for PostgreSQL.");
        var process = postmaster;

        // A real login (after crash recovery the server refuses them with 57P03 until it is consistent); before the
        // test role exists, the superuser over the socket.
        var probe = new NpgsqlConnectionStringBuilder(ConnectionString.Length > 0 ? ConnectionString : AdminConnectionString) { Pooling = false, Timeout = 5 }.ConnectionString;
        await Eventually.TrueAsync(async () => process.HasExited || await CanQueryAsync(probe).ConfigureAwait(false), StartTimeout,
            $"PostgreSQL on 127.0.0.1:{Port} to accept connections; log: {LogFile}", TimeSpan.FromMilliseconds(50)).ConfigureAwait(false);
        if (process.HasExited)
        {
            throw new InvalidOperationException($"PostgreSQL exited with code {process.ExitCode} while starting on port {Port}; log: {LogFile}\n{LogTail()}");
        }
    }

    /// <summary>Takes the server down as <paramref name="how"/> says and returns when the postmaster and every child are gone.
    /// Does nothing when it is not running.</summary>
    public async Task StopAsync(PostgresShutdown how = PostgresShutdown.Fast)
    {
        if (postmaster is not { } process || !ProcessTable.IsAlive(process.Id))
        {
            return;
        }

        var pid = process.Id;
        IReadOnlyList<int> processes;
        if (how == PostgresShutdown.Kill)
        {
            processes = KillTree(pid);
        }
        else
        {
            // The postmaster ends its children before it exits itself; the snapshot also covers any child it forgets.
            processes = [pid, .. ProcessTable.ChildrenOf(pid)];
            Signals.Send(pid, how == PostgresShutdown.Fast ? Signals.Interrupt : Signals.Quit);
        }

        await Eventually.TrueAsync(() => Task.FromResult(!processes.Any(ProcessTable.IsAlive)), StopTimeout,
            $"PostgreSQL (postmaster {pid}, port {Port}) to stop ({how}); log: {LogFile}", TimeSpan.FromMilliseconds(20)).ConfigureAwait(false);
    }

    /// <summary>SIGKILL to the postmaster and all its children, waiting until they are gone: see <see cref="PostgresShutdown.Kill"/>.</summary>
    public Task KillAsync() => StopAsync(PostgresShutdown.Kill);

    /// <summary>Stops as <paramref name="how"/> says, then starts again on the same port and data.</summary>
    public async Task RestartAsync(PostgresShutdown how = PostgresShutdown.Fast)
    {
        await StopAsync(how).ConfigureAwait(false);
        await StartAsync().ConfigureAwait(false);
    }

    public async Task DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        try
        {
            // Immediate: the data is deleted next, so a shutdown checkpoint would be wasted time.
            await StopAsync(PostgresShutdown.Immediate).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await StopAsync(PostgresShutdown.Kill).ConfigureAwait(false);
        }

        postmaster?.Dispose();
        postmaster = null;
        DeleteDirectory();
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync().ConfigureAwait(false);

    private static string[] AsPostgres() => ["--reuid=" + OsUser, "--regid=" + OsUser, "--init-groups", "--"];

    /// <summary>Stops the postmaster first so it forks no child between the listing and the kill (its children would
    /// outlive it, holding the shared memory that keeps a new postmaster from starting), then SIGKILLs them all.</summary>
    private static int[] KillTree(int pid)
    {
        if (!Signals.TrySend(pid, Signals.Stop))
        {
            return [];
        }

        int[] processes = [pid, .. ProcessTable.ChildrenOf(pid)];
        foreach (var each in processes)
        {
            Signals.TrySend(each, Signals.Kill);
        }

        return processes;
    }

    private static async Task<bool> CanQueryAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT 1", connection);
        return await command.ExecuteScalarAsync().ConfigureAwait(false) is 1;
    }

    private static string FindBinaries()
    {
        var version = System.IO.Directory.Exists("/usr/lib/postgresql")
            ? System.IO.Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => (Dir: d, Ok: int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v), Version: v))
                .Where(d => d.Ok && File.Exists(Path.Combine(d.Dir, "bin", "postgres")))
                .OrderByDescending(d => d.Version)
                .Select(d => d.Dir)
                .FirstOrDefault()
            : null;
        return version is null
            ? throw new InvalidOperationException("No PostgreSQL server under /usr/lib/postgresql/*/bin: fault tests start their own server from Debian's postgresql package. Run `scripts/services up` (it installs it).")
            : Path.Combine(version, "bin");
    }

    private static async Task RunAsync(string fileName, string[] arguments)
    {
        var info = new ProcessStartInfo(fileName) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        arguments.ToList().ForEach(info.ArgumentList.Add);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        using var timeout = new CancellationTokenSource(StartTimeout);
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var errors = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish within {StartTimeout.TotalSeconds:0} s.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} failed with exit code {process.ExitCode}:\n{await output.ConfigureAwait(false)}{await errors.ConfigureAwait(false)}");
        }
    }

    private string LogTail()
    {
        try
        {
            return string.Join('\n', File.ReadLines(LogFile).TakeLast(20));
        }
        catch (IOException ex)
        {
            return $"(log unreadable: {ex.Message})";
        }
    }

    private void KillOnExit(object? sender, EventArgs e)
    {
        if (postmaster is { } process)
        {
            KillTree(process.Id);
        }

        DeleteDirectory();
    }

    private void DeleteDirectory()
    {
        try
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (IOException ex)
        {
            Console.Error.WriteLine($"Could not delete the private PostgreSQL directory {directory}: {ex.Message}");
        }
    }
}
