using System.Net;
using System.Net.Sockets;

namespace Pipeline.Testing;

/// <summary>
/// Ports for servers the tests start (replicas, private ZooKeeper, RabbitMQ and PostgreSQL servers, proxies): free on every
/// interface, below Linux's ephemeral range (32768-60999 by default), so no outgoing connection of the machine can take one
/// between the choice and the bind, and never the same port twice in one test process.
/// </summary>
public static class FreePorts
{
    private const int First = 20000;
    private const int Last = 32000;
    private static readonly HashSet<int> HandedOut = [];

    public static int[] Take(int count)
    {
        var ports = new List<int>(count);
        lock (HandedOut)
        {
            for (var attempts = 0; ports.Count < count; attempts++)
            {
                if (attempts > 10_000)
                {
                    throw new InvalidOperationException($"No {count} free ports found between {First} and {Last}.");
                }

                var port = Random.Shared.Next(First, Last);
                if (!HandedOut.Contains(port) && IsFree(port))
                {
                    HandedOut.Add(port);
                    ports.Add(port);
                }
            }
        }

        return [.. ports];
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Any, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
