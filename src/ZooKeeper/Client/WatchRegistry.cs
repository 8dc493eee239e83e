using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Client;

/// <summary>Which table a one-time watch goes into: getData sets data watches, exists exist watches, getChildren child watches.</summary>
internal enum WatchKind
{
    Data,
    Exist,
    Child,
}

/// <summary>A watch to register once its request succeeds (for exists, also on NoNode). The path is the server's.</summary>
internal sealed record WatchRegistration(WatchKind Kind, string ServerPath, Action<WatchedEvent> Watcher);

/// <summary>
/// The client's tables of one-time watches, by server path, as the Java client's ZKWatchManager keeps them. A watcher set
/// twice on one path is called once. Survives reconnects (re-sent with SetWatches); emptied on expiry and close.
/// </summary>
internal sealed class WatchRegistry
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, HashSet<Action<WatchedEvent>>> data = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<Action<WatchedEvent>>> exist = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<Action<WatchedEvent>>> child = new(StringComparer.Ordinal);

    public void Register(WatchRegistration registration)
    {
        lock (gate)
        {
            var table = registration.Kind switch
            {
                WatchKind.Data => data,
                WatchKind.Exist => exist,
                _ => child,
            };
            if (!table.TryGetValue(registration.ServerPath, out var set))
            {
                table[registration.ServerPath] = set = [];
            }

            set.Add(registration.Watcher);
        }
    }

    /// <summary>Removes and returns the watchers an event fires: created and data changes fire data and exist watches,
    /// child changes child watches, deletion data, child (and, defensively, exist) watches.</summary>
    public List<Action<WatchedEvent>> Trigger(EventType type, string serverPath)
    {
        var fired = new List<Action<WatchedEvent>>();
        lock (gate)
        {
            switch (type)
            {
                case EventType.NodeCreated or EventType.NodeDataChanged:
                    Take(data, serverPath, fired);
                    Take(exist, serverPath, fired);
                    break;
                case EventType.NodeChildrenChanged:
                    Take(child, serverPath, fired);
                    break;
                case EventType.NodeDeleted:
                    Take(data, serverPath, fired);
                    Take(exist, serverPath, fired);
                    Take(child, serverPath, fired);
                    break;
                default:
                    break;
            }
        }

        return fired.Distinct().ToList();
    }

    /// <summary>The watched paths per table, for SetWatches after a reconnect.</summary>
    public (List<string> Data, List<string> Exist, List<string> Child) Snapshot()
    {
        lock (gate)
        {
            return ([.. data.Keys], [.. exist.Keys], [.. child.Keys]);
        }
    }

    public int Count
    {
        get
        {
            lock (gate)
            {
                return data.Values.Sum(s => s.Count) + exist.Values.Sum(s => s.Count) + child.Values.Sum(s => s.Count);
            }
        }
    }

    /// <summary>Removes every watcher and returns them, each once: the session ended under them.</summary>
    public List<Action<WatchedEvent>> Clear()
    {
        lock (gate)
        {
            var all = data.Values.Concat(exist.Values).Concat(child.Values).SelectMany(s => s).Distinct().ToList();
            data.Clear();
            exist.Clear();
            child.Clear();
            return all;
        }
    }

    private static void Take(Dictionary<string, HashSet<Action<WatchedEvent>>> table, string path, List<Action<WatchedEvent>> into)
    {
        if (table.Remove(path, out var set))
        {
            into.AddRange(set);
        }
    }
}
