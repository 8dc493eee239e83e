namespace Pipeline.ZooKeeper.Protocol;

/// <summary>What happened to a watched znode (Watcher.Event.EventType).</summary>
public enum EventType
{
    None = -1,
    NodeCreated = 1,
    NodeDeleted = 2,
    NodeDataChanged = 3,
    NodeChildrenChanged = 4,
    DataWatchRemoved = 5,
    ChildWatchRemoved = 6,
    PersistentWatchRemoved = 7,
}

/// <summary>The session's state as carried in events (Watcher.Event.KeeperState).</summary>
public enum KeeperState
{
    Disconnected = 0,
    SyncConnected = 3,
    AuthFailed = 4,
    ConnectedReadOnly = 5,
    SaslAuthenticated = 6,
    Closed = 7,
    Expired = -112,
}

/// <summary>A watch fired (or, with <see cref="EventType.None"/>, the session ended under it). Path is the caller's (chroot removed).</summary>
public sealed record WatchedEvent(EventType Type, KeeperState State, string? Path);

/// <summary>The WatcherEvent record of a notification (xid -1): int type, int state, ustring path.</summary>
public readonly record struct WatcherEventRecord(int Type, int State, string? Path)
{
    public static WatcherEventRecord Read(ref JuteReader reader) => new(reader.ReadInt(), reader.ReadInt(), reader.ReadString());

    public void Write(ref JuteWriter writer)
    {
        writer.WriteInt(Type);
        writer.WriteInt(State);
        writer.WriteString(Path);
    }
}
