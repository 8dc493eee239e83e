namespace Pipeline.ZooKeeper.Protocol;

/// <summary>A request body: its opcode and its encoder. Paths in records are server paths (chroot already applied).</summary>
public interface IRequestRecord
{
    OpCode OpCode { get; }

    void Write(ref JuteWriter writer);
}

/// <summary>create (1), create2 (15) or createContainer (19): ustring path, buffer data, vector&lt;ACL&gt; acl, int flags.</summary>
public sealed record CreateRequest(string Path, byte[]? Data, IReadOnlyList<Acl> Acl, CreateMode Mode, OpCode OpCode = OpCode.Create2) : IRequestRecord
{
    public void Write(ref JuteWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteBuffer(Data);
        Protocol.Acl.WriteVector(ref writer, Acl);
        writer.WriteInt((int)Mode);
    }
}

/// <summary>delete (2): ustring path, int version (-1: any).</summary>
public sealed record DeleteRequest(string Path, int Version) : IRequestRecord
{
    public OpCode OpCode => OpCode.Delete;

    public void Write(ref JuteWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteInt(Version);
    }
}

/// <summary>exists (3): ustring path, boolean watch.</summary>
public sealed record ExistsRequest(string Path, bool Watch) : IRequestRecord
{
    public OpCode OpCode => OpCode.Exists;

    public void Write(ref JuteWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteBool(Watch);
    }
}

/// <summary>getData (4): ustring path, boolean watch.</summary>
public sealed record GetDataRequest(string Path, bool Watch) : IRequestRecord
{
    public OpCode OpCode => OpCode.GetData;

    public void Write(ref JuteWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteBool(Watch);
    }
}

/// <summary>getChildren2 (12): ustring path, boolean watch; the reply carries the parent's Stat with the children.</summary>
public sealed record GetChildren2Request(string Path, bool Watch) : IRequestRecord
{
    public OpCode OpCode => OpCode.GetChildren2;

    public void Write(ref JuteWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteBool(Watch);
    }
}

/// <summary>setData (5): ustring path, buffer data, int version (-1: any).</summary>
public sealed record SetDataRequest(string Path, byte[]? Data, int Version) : IRequestRecord
{
    public OpCode OpCode => OpCode.SetData;

    public void Write(ref JuteWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteBuffer(Data);
        writer.WriteInt(Version);
    }
}

/// <summary>getACL (6): ustring path.</summary>
public sealed record GetAclRequest(string Path) : IRequestRecord
{
    public OpCode OpCode => OpCode.GetAcl;

    public void Write(ref JuteWriter writer) => writer.WriteString(Path);
}

/// <summary>setACL (7): ustring path, vector&lt;ACL&gt; acl, int version (compared with aversion).</summary>
public sealed record SetAclRequest(string Path, IReadOnlyList<Acl> Acl, int Version) : IRequestRecord
{
    public OpCode OpCode => OpCode.SetAcl;

    public void Write(ref JuteWriter writer)
    {
        writer.WriteString(Path);
        Protocol.Acl.WriteVector(ref writer, Acl);
        writer.WriteInt(Version);
    }
}

/// <summary>sync (9): ustring path.</summary>
public sealed record SyncRequest(string Path) : IRequestRecord
{
    public OpCode OpCode => OpCode.Sync;

    public void Write(ref JuteWriter writer) => writer.WriteString(Path);
}

/// <summary>check (13), inside multi only: ustring path, int version.</summary>
public sealed record CheckVersionRequest(string Path, int Version) : IRequestRecord
{
    public OpCode OpCode => OpCode.Check;

    public void Write(ref JuteWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteInt(Version);
    }
}

/// <summary>multi (14): each op behind a MultiHeader(type, false, -1), then the terminator MultiHeader(-1, true, -1).</summary>
public sealed record MultiRequest(IReadOnlyList<IRequestRecord> Ops) : IRequestRecord
{
    public OpCode OpCode => OpCode.Multi;

    public void Write(ref JuteWriter writer)
    {
        foreach (var op in Ops)
        {
            new MultiHeader(op.OpCode, false, (ErrorCode)(-1)).Write(ref writer);
            op.Write(ref writer);
        }

        MultiHeader.End.Write(ref writer);
    }
}

/// <summary>auth (100, xid -4): int type (0), ustring scheme, buffer auth.</summary>
public sealed record AuthPacket(string Scheme, byte[] Auth) : IRequestRecord
{
    public OpCode OpCode => OpCode.Auth;

    public void Write(ref JuteWriter writer)
    {
        writer.WriteInt(0);
        writer.WriteString(Scheme);
        writer.WriteBuffer(Auth);
    }
}

/// <summary>setWatches (101): long relativeZxid, then the data, exist and child watch paths to re-register after a reconnect.</summary>
public sealed record SetWatchesRequest(long RelativeZxid, IReadOnlyList<string> DataWatches, IReadOnlyList<string> ExistWatches, IReadOnlyList<string> ChildWatches) : IRequestRecord
{
    public OpCode OpCode => OpCode.SetWatches;

    public void Write(ref JuteWriter writer)
    {
        writer.WriteLong(RelativeZxid);
        writer.WriteStringVector(DataWatches);
        writer.WriteStringVector(ExistWatches);
        writer.WriteStringVector(ChildWatches);
    }
}

/// <summary>A request with no body: ping (11, xid -2) and closeSession (-11).</summary>
public sealed record EmptyRequest(OpCode OpCode) : IRequestRecord
{
    public static readonly EmptyRequest Ping = new(OpCode.Ping);
    public static readonly EmptyRequest CloseSession = new(OpCode.CloseSession);

    public void Write(ref JuteWriter writer)
    {
    }
}
