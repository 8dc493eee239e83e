using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Pipeline.ZooKeeper.Client;

namespace Pipeline.ZooKeeper.Tests.Liveness;

/// <summary>
/// The client counts a connection alive only while the server answers what it sends: a reply proves the server heard us
/// when we sent the request, nothing later, so bytes that merely arrive (a notification, a reply held up in the network)
/// must not extend the session the client believes in. A scripted server that keeps sending notifications but answers no
/// ping must be declared dead after the read timeout (2/3 of the session timeout), or the client would go on holding
/// ephemerals and leases the real server may have expired.
/// </summary>
public sealed class AcknowledgedLivenessTests
{
    private const int SessionTimeoutMs = 1500;

    [Fact]
    public async Task A_server_that_sends_notifications_but_answers_nothing_is_declared_dead_after_the_read_timeout()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var stop = new CancellationTokenSource();
        var server = Task.Run(() => ServeOneSessionAsync(listener, stop.Token));
        var disconnected = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var client = await ZooKeeperClient.ConnectAsync(new ZooKeeperClientOptions
        {
            ConnectString = $"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}",
            SessionTimeout = TimeSpan.FromMilliseconds(SessionTimeoutMs),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(50),
        });
        var connectedAt = clock.Elapsed;
        client.StateChanged += (_, change) =>
        {
            if (change.State != ConnectionState.Connected)
            {
                disconnected.TrySetResult(clock.Elapsed);
            }
        };

        try
        {
            var at = await disconnected.Task.WaitAsync(TimeSpan.FromSeconds(5));
            var after = at - connectedAt;
            Assert.True(after < TimeSpan.FromMilliseconds(SessionTimeoutMs),
                $"declared dead {after.TotalMilliseconds:0} ms after connecting; the read timeout is {SessionTimeoutMs * 2 / 3} ms");
        }
        catch (TimeoutException)
        {
            Assert.Fail("the client still counts the connection alive 5 s after its last answered request, because notifications kept arriving");
        }
        finally
        {
            await stop.CancelAsync();
            await server;
        }
    }

    /// <summary>Answers one handshake, then sends a notification every 100 ms and answers nothing; later connections are refused.</summary>
    private static async Task ServeOneSessionAsync(TcpListener listener, CancellationToken token)
    {
        using var socket = await listener.AcceptTcpClientAsync(token);
        listener.Stop();
        var stream = socket.GetStream();
        await ReadFrameAsync(stream, token); // the ConnectRequest
        var response = new byte[4 + 4 + 4 + 8 + 4 + 16 + 1];
        BinaryPrimitives.WriteInt32BigEndian(response, response.Length - 4);
        BinaryPrimitives.WriteInt32BigEndian(response.AsSpan(4), 0); // protocol version
        BinaryPrimitives.WriteInt32BigEndian(response.AsSpan(8), SessionTimeoutMs);
        BinaryPrimitives.WriteInt64BigEndian(response.AsSpan(12), 0x1234);
        BinaryPrimitives.WriteInt32BigEndian(response.AsSpan(20), 16); // password, 16 bytes of zeros
        await stream.WriteAsync(response, token);
        var reading = Task.Run(async () =>
        {
            while (await ReadFrameAsync(stream, token) is not null)
            {
                // pings and requests are read and never answered
            }
        }, CancellationToken.None);

        var path = "/x"u8.ToArray();
        var notification = new byte[4 + 4 + 8 + 4 + 4 + 4 + 4 + path.Length];
        BinaryPrimitives.WriteInt32BigEndian(notification, notification.Length - 4);
        BinaryPrimitives.WriteInt32BigEndian(notification.AsSpan(4), -1); // xid of a notification
        BinaryPrimitives.WriteInt64BigEndian(notification.AsSpan(8), -1);
        BinaryPrimitives.WriteInt32BigEndian(notification.AsSpan(16), 0);
        BinaryPrimitives.WriteInt32BigEndian(notification.AsSpan(20), 3); // NodeDataChanged
        BinaryPrimitives.WriteInt32BigEndian(notification.AsSpan(24), 3); // SyncConnected
        BinaryPrimitives.WriteInt32BigEndian(notification.AsSpan(28), path.Length);
        path.CopyTo(notification.AsSpan(32));
        try
        {
            while (!token.IsCancellationRequested)
            {
                await stream.WriteAsync(notification, token);
                await Task.Delay(100, token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException)
        {
        }

        socket.Close();
        await reading.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private static async Task<byte[]?> ReadFrameAsync(NetworkStream stream, CancellationToken token)
    {
        var length = new byte[4];
        try
        {
            await stream.ReadExactlyAsync(length, token);
            var frame = new byte[BinaryPrimitives.ReadInt32BigEndian(length)];
            await stream.ReadExactlyAsync(frame, token);
            return frame;
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException or OperationCanceledException or SocketException)
        {
            return null;
        }
    }
}
