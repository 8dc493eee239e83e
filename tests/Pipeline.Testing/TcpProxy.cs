using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Pipeline.Testing;

/// <summary>
/// A loopback TCP proxy in front of one service, for fault tests: <see cref="Cut"/> drops every connection and refuses new
/// ones, <see cref="Pause"/> holds the bytes in both directions with the sockets left open (a partition or a frozen peer as
/// the client sees it), <see cref="Delay"/> adds latency, <see cref="Heal"/> restores normal forwarding.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly string targetHost;
    private readonly int targetPort;
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentDictionary<int, (TcpClient Client, TcpClient Upstream)> links = new();
    private readonly CancellationTokenSource stop = new();
    private TaskCompletionSource flowing = Open();
    private Task? acceptLoop;
    private int nextId;
    private volatile bool cut;
    private long delayTicks;
    private byte[]? cutPattern;

    public TcpProxy(string target)
    {
        var colon = target.LastIndexOf(':');
        targetHost = target[..colon];
        targetPort = int.Parse(target[(colon + 1)..], CultureInfo.InvariantCulture);
    }

    /// <summary>Where clients connect: "127.0.0.1:port".</summary>
    public string Endpoint => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}");

    /// <summary>Connections accepted so far.</summary>
    public int ConnectionsAccepted => Volatile.Read(ref nextId);

    public static async Task<TcpProxy> StartAsync(string target)
    {
        var proxy = new TcpProxy(target);
        proxy.listener.Start();
        proxy.acceptLoop = Task.Run(proxy.AcceptAsync);
        await Task.Yield();
        return proxy;
    }

    /// <summary>Drops every open connection (reset) and refuses new ones until <see cref="Heal"/>.</summary>
    public void Cut()
    {
        cut = true;
        foreach (var (id, link) in links)
        {
            Close(id, link, reset: true);
        }
    }

    /// <summary>Stops forwarding in both directions; connections stay open and bytes wait until <see cref="Heal"/>.</summary>
    public void Pause()
    {
        var current = Volatile.Read(ref flowing);
        if (current.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref flowing, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), current);
        }
    }

    /// <summary>Arms a one-shot fault: the first chunk from a client that contains <paramref name="pattern"/> is forwarded,
    /// then that connection is reset at once, so the request arrives and its reply is lost. New connections are accepted.</summary>
    public void CutOnceAfterClientSends(byte[] pattern) => Volatile.Write(ref cutPattern, pattern);

    /// <summary>Adds <paramref name="latency"/> before each forwarded chunk.</summary>
    public void Delay(TimeSpan latency) => Interlocked.Exchange(ref delayTicks, latency.Ticks);

    /// <summary>Back to normal: accepts connections, forwards bytes, no added latency.</summary>
    public void Heal()
    {
        cut = false;
        Interlocked.Exchange(ref delayTicks, 0);
        Volatile.Read(ref flowing).TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        listener.Stop();
        Heal();
        foreach (var (id, link) in links)
        {
            Close(id, link, reset: false);
        }

        if (acceptLoop is not null)
        {
            await acceptLoop.ConfigureAwait(false);
        }

        stop.Dispose();
    }

    private delegate void SpanAction(ReadOnlySpan<byte> chunk);

    private static TaskCompletionSource Open()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }

    private async Task AcceptAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            if (cut)
            {
                client.Client.LingerState = new LingerOption(true, 0);
                client.Dispose();
                continue;
            }

            var id = Interlocked.Increment(ref nextId);
            _ = Task.Run(() => LinkAsync(id, client));
        }
    }

    private async Task LinkAsync(int id, TcpClient client)
    {
        var upstream = new TcpClient { NoDelay = true };
        client.NoDelay = true;
        try
        {
            await upstream.ConnectAsync(targetHost, targetPort, stop.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            client.Dispose();
            upstream.Dispose();
            return;
        }

        var link = (client, upstream);
        links[id] = link;
        var a = PumpAsync(client.GetStream(), upstream.GetStream(), chunk => CutIfArmed(id, link, chunk));
        var b = PumpAsync(upstream.GetStream(), client.GetStream(), null);
        await Task.WhenAny(a, b).ConfigureAwait(false);
        Close(id, link, reset: false);
        await Task.WhenAll(a, b).ConfigureAwait(false);
    }

    private void CutIfArmed(int id, (TcpClient Client, TcpClient Upstream) link, ReadOnlySpan<byte> chunk)
    {
        var pattern = Volatile.Read(ref cutPattern);
        if (pattern is not null && chunk.IndexOf(pattern) >= 0 && Interlocked.CompareExchange(ref cutPattern, null, pattern) == pattern)
        {
            Close(id, link, reset: true);
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, SpanAction? afterForward)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, stop.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                await Volatile.Read(ref flowing).Task.WaitAsync(stop.Token).ConfigureAwait(false);
                var delay = Interlocked.Read(ref delayTicks);
                if (delay > 0)
                {
                    await Task.Delay(TimeSpan.FromTicks(delay), stop.Token).ConfigureAwait(false);
                }

                await Volatile.Read(ref flowing).Task.WaitAsync(stop.Token).ConfigureAwait(false);
                await to.WriteAsync(buffer.AsMemory(0, read), stop.Token).ConfigureAwait(false);
                afterForward?.Invoke(buffer.AsSpan(0, read));
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private void Close(int id, (TcpClient Client, TcpClient Upstream) link, bool reset)
    {
        if (!links.TryRemove(id, out _))
        {
            return;
        }

        foreach (var socket in new[] { link.Client, link.Upstream })
        {
            try
            {
                if (reset)
                {
                    socket.Client.LingerState = new LingerOption(true, 0);
                }

                socket.Dispose();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }
}
