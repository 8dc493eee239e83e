using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Client;

/// <summary>One operation of a multi (transaction): all of them apply, or none.</summary>
public abstract record Op(string Path)
{
    public static Op Create(string path, byte[]? data, IReadOnlyList<Acl> acl, CreateMode mode = CreateMode.Persistent) => new CreateOp(path, data, acl, mode);

    public static Op Delete(string path, int version = -1) => new DeleteOp(path, version);

    public static Op SetData(string path, byte[]? data, int version = -1) => new SetDataOp(path, data, version);

    public static Op Check(string path, int version) => new CheckOp(path, version);

    internal abstract IRequestRecord ToRecord(string serverPath);

    internal virtual bool IsSequential => false;

    private sealed record CreateOp(string Path, byte[]? Data, IReadOnlyList<Acl> Acl, CreateMode Mode) : Op(Path)
    {
        internal override bool IsSequential => Mode.IsSequential();

        internal override IRequestRecord ToRecord(string serverPath) =>
            new CreateRequest(serverPath, Data, Acl, Mode, Mode == CreateMode.Container ? OpCode.CreateContainer : OpCode.Create2);
    }

    private sealed record DeleteOp(string Path, int Version) : Op(Path)
    {
        internal override IRequestRecord ToRecord(string serverPath) => new DeleteRequest(serverPath, Version);
    }

    private sealed record SetDataOp(string Path, byte[]? Data, int Version) : Op(Path)
    {
        internal override IRequestRecord ToRecord(string serverPath) => new SetDataRequest(serverPath, Data, Version);
    }

    private sealed record CheckOp(string Path, int Version) : Op(Path)
    {
        internal override IRequestRecord ToRecord(string serverPath) => new CheckVersionRequest(serverPath, Version);
    }
}
