using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Tests.Interop;

/// <summary>A data node as the Java client reads it: data is null where Java's getData returns null.</summary>
public sealed record JavaData(byte[]? Data, Stat Stat);

/// <summary>ACLs the Java driver creates with: ZooDefs.Ids.OPEN_ACL_UNSAFE, CREATOR_ALL_ACL, READ_ACL_UNSAFE.</summary>
public enum JavaAcl
{
    Open,
    Creator,
    Read,
}

/// <summary>
/// The official Java client (org.apache.zookeeper.ZooKeeper) in a child JVM running Interop/java/ZkInterop.java, one
/// session, driven one command at a time over stdin/stdout. Every reply is awaited with a timeout; a Java
/// KeeperException comes back as a <see cref="KeeperException"/> with the same code. The JVM is always ended on dispose.
/// </summary>
public sealed class JavaZooKeeperClient : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(20);
    private readonly Process process;
    private readonly Channel<string> replies = Channel.CreateUnbounded<string>();
    private readonly ConcurrentQueue<string> log = new();
    private readonly SemaphoreSlim gate = new(1, 1);
    private bool disposed;

    private JavaZooKeeperClient(Process process) => this.process = process;

    /// <summary>The Java session's id (ZooKeeper.getSessionId()).</summary>
    public long SessionId { get; private set; }

    /// <summary>Starts a JVM whose client connects to <paramref name="connectString"/> (chroot included) and waits for its session.</summary>
    public static async Task<JavaZooKeeperClient> StartAsync(string connectString, TimeSpan? sessionTimeout = null)
    {
        var runtime = await InteropDriver.GetAsync();
        var info = new ProcessStartInfo(runtime.Java)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        var timeoutMs = (long)(sessionTimeout ?? TimeSpan.FromSeconds(10)).TotalMilliseconds;
        foreach (var argument in new[] { "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx128m", "-cp", runtime.Classpath, InteropDriver.MainClass, connectString, timeoutMs.ToString(CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(argument);
        }

        var client = new JavaZooKeeperClient(new Process { StartInfo = info });
        try
        {
            client.Start();
            var ready = await client.ReadReplyAsync("connect to " + connectString, StartTimeout);
            if (!ready.StartsWith("ready ", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"The Java client did not connect to {connectString}: {ready}{client.Diagnostics()}");
            }

            client.SessionId = long.Parse(ready["ready ".Length..], CultureInfo.InvariantCulture);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    public async Task AddDigestAuthAsync(string user, string password) => await CallAsync($"auth {user}:{password}", null);

    /// <summary>Creates a node; returns its path as Java's create returns it (sequence suffix included, chroot removed).</summary>
    public async Task<string> CreateAsync(string path, byte[]? data, CreateMode mode = CreateMode.Persistent, JavaAcl acl = JavaAcl.Open)
    {
        var javaMode = mode switch
        {
            CreateMode.Persistent => "PERSISTENT",
            CreateMode.Ephemeral => "EPHEMERAL",
            CreateMode.PersistentSequential => "PERSISTENT_SEQUENTIAL",
            CreateMode.EphemeralSequential => "EPHEMERAL_SEQUENTIAL",
            _ => "CONTAINER",
        };
        var javaAcl = acl switch
        {
            JavaAcl.Creator => "creator",
            JavaAcl.Read => "read",
            _ => "open",
        };
        return (await CallAsync($"create {path} {Encode(data)} {javaMode} {javaAcl}", path))[0];
    }

    public async Task<JavaData> GetDataAsync(string path)
    {
        var reply = await CallAsync($"get {path}", path);
        return new JavaData(Decode(reply[0]), ParseStat(reply, 1));
    }

    /// <summary>The node's Stat, or null where it does not exist.</summary>
    public async Task<Stat?> ExistsAsync(string path)
    {
        var reply = await CallAsync($"exists {path}", path);
        return reply[0] == "none" ? null : ParseStat(reply, 0);
    }

    public async Task<Stat> SetDataAsync(string path, byte[]? data) => ParseStat(await CallAsync($"set {path} {Encode(data)}", path), 0);

    public async Task DeleteAsync(string path) => await CallAsync($"delete {path}", path);

    /// <summary>The children's names, sorted.</summary>
    public async Task<IReadOnlyList<string>> GetChildrenAsync(string path) => await CallAsync($"children {path}", path);

    public async Task<IReadOnlyList<Acl>> GetAclAsync(string path)
    {
        var reply = await CallAsync($"getacl {path}", path);
        return [.. reply.Chunk(3).Select(e => new Acl((Permissions)int.Parse(e[0], CultureInfo.InvariantCulture), new Id(e[1], e[2])))];
    }

    /// <summary>Awaits, with an exists watch set by the Java client, until the node is gone; fails after <paramref name="timeout"/>.</summary>
    public async Task WaitDeletedAsync(string path, TimeSpan timeout)
    {
        var reply = await CallAsync($"waitdeleted {path} {(long)timeout.TotalMilliseconds}", path, timeout + ReplyTimeout);
        if (reply[0] != "gone")
        {
            throw new TimeoutException($"The Java client still sees {path} after {timeout.TotalSeconds:0.#} s.");
        }
    }

    /// <summary>Closes the Java session (its ephemerals go at once) and ends the JVM; killed if it does not end in time.</summary>
    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        try
        {
            if (IsRunning)
            {
                try
                {
                    await process.StandardInput.WriteAsync("quit\n");
                    await process.StandardInput.FlushAsync();
                    process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // The JVM is gone already.
                }

                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await process.WaitForExitAsync(deadline.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
        finally
        {
            if (IsRunning)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }

            process.Dispose();
        }
    }

    private bool IsRunning
    {
        get
        {
            try
            {
                return !process.HasExited;
            }
            catch (InvalidOperationException)
            {
                return false; // never started
            }
        }
    }

    private void Start()
    {
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                replies.Writer.TryComplete();
            }
            else if (e.Data.StartsWith("@@ ", StringComparison.Ordinal))
            {
                replies.Writer.TryWrite(e.Data[3..]);
            }
            else
            {
                Log("stdout: " + e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Log("stderr: " + e.Data);
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    private async Task<string[]> CallAsync(string command, string? path, TimeSpan? timeout = null)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (path is not null && path.AsSpan().IndexOfAny(" \r\n") >= 0)
        {
            throw new ArgumentException($"The driver's line protocol cannot carry '{path}': no spaces or line breaks in paths.", nameof(path));
        }

        var what = command.Length > 100 ? command[..100] + "..." : command;
        await gate.WaitAsync();
        try
        {
            try
            {
                await process.StandardInput.WriteAsync(command + "\n");
                await process.StandardInput.FlushAsync();
            }
            catch (IOException ex)
            {
                throw Ended(what, ex);
            }

            var reply = await ReadReplyAsync(what, timeout ?? ReplyTimeout);
            var tokens = reply.Split(' ');
            return tokens[0] switch
            {
                "ok" => tokens[1..],
                "err" => throw new KeeperException((ErrorCode)int.Parse(tokens[1], CultureInfo.InvariantCulture), path),
                "fail" when tokens[1] == "java.lang.IllegalArgumentException:" => throw new ArgumentException($"Java refused '{what}': {reply}", nameof(path)),
                _ => throw new InvalidOperationException($"The Java client failed '{what}': {reply}{Diagnostics()}"),
            };
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<string> ReadReplyAsync(string what, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            return await replies.Reader.ReadAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            // A late reply would answer the next command: this client is done.
            if (IsRunning)
            {
                process.Kill(entireProcessTree: true);
            }

            throw new TimeoutException($"The Java client did not answer '{what}' within {timeout.TotalSeconds:0.#} s.{Diagnostics()}");
        }
        catch (ChannelClosedException ex)
        {
            throw Ended(what, ex);
        }
    }

    private InvalidOperationException Ended(string what, Exception cause)
    {
        process.WaitForExit(5000);
        var exit = IsRunning ? "still running" : "exit code " + process.ExitCode.ToString(CultureInfo.InvariantCulture);
        return new InvalidOperationException($"The Java client's JVM ended ({exit}) before answering '{what}'.{Diagnostics()}", cause);
    }

    private void Log(string line)
    {
        log.Enqueue(line);
        while (log.Count > 40 && log.TryDequeue(out _))
        {
        }
    }

    private string Diagnostics() => log.IsEmpty ? "" : "\nLast output of the JVM:\n" + string.Join('\n', log);

    private static string Encode(byte[]? data) => data is null ? "~" : data.Length == 0 ? "-" : Convert.ToBase64String(data);

    private static byte[]? Decode(string token) => token switch
    {
        "~" => null,
        "-" => [],
        _ => Convert.FromBase64String(token),
    };

    private static Stat ParseStat(string[] tokens, int start)
    {
        var f = tokens[start..(start + 11)].Select(t => long.Parse(t, CultureInfo.InvariantCulture)).ToArray();
        return new Stat(f[0], f[1], f[2], f[3], (int)f[4], (int)f[5], (int)f[6], f[7], (int)f[8], (int)f[9], f[10]);
    }
}
