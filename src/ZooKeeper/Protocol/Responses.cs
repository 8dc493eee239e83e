namespace Pipeline.ZooKeeper.Protocol;

/// <summary>A reply body and its decoder. Decoders consume the whole body and fail on trailing bytes.</summary>
public interface IResponseRecord<out TSelf>
    where TSelf : IResponseRecord<TSelf>
{
    static abstract TSelf Read(ref JuteReader reader);
}

/// <summary>No body: delete, setWatches, closeSession, auth.</summary>
public sealed record EmptyResponse : IResponseRecord<EmptyResponse>
{
    public static readonly EmptyResponse Instance = new();

    public static EmptyResponse Read(ref JuteReader reader)
    {
        reader.EnsureEnd(nameof(EmptyResponse));
        return Instance;
    }
}

/// <summary>create (1): ustring path, the name actually created (with any sequence suffix).</summary>
public sealed record CreateResponse(string Path) : IResponseRecord<CreateResponse>
{
    public static CreateResponse Read(ref JuteReader reader)
    {
        var response = new CreateResponse(reader.ReadRequiredString("path"));
        reader.EnsureEnd(nameof(CreateResponse));
        return response;
    }
}

/// <summary>create2 / createContainer / createTTL: ustring path, Stat stat.</summary>
public sealed record Create2Response(string Path, Stat Stat) : IResponseRecord<Create2Response>
{
    public static Create2Response Read(ref JuteReader reader)
    {
        var response = new Create2Response(reader.ReadRequiredString("path"), Stat.Read(ref reader));
        reader.EnsureEnd(nameof(Create2Response));
        return response;
    }
}

/// <summary>exists, setData, setACL: Stat stat.</summary>
public sealed record StatResponse(Stat Stat) : IResponseRecord<StatResponse>
{
    public static StatResponse Read(ref JuteReader reader)
    {
        var response = new StatResponse(Stat.Read(ref reader));
        reader.EnsureEnd(nameof(StatResponse));
        return response;
    }
}

/// <summary>getData: buffer data, Stat stat.</summary>
public sealed record GetDataResponse(byte[] Data, Stat Stat) : IResponseRecord<GetDataResponse>
{
    public static GetDataResponse Read(ref JuteReader reader)
    {
        var response = new GetDataResponse(reader.ReadBuffer() ?? [], Stat.Read(ref reader));
        reader.EnsureEnd(nameof(GetDataResponse));
        return response;
    }
}

/// <summary>getChildren2: vector&lt;ustring&gt; children, Stat stat (the parent's).</summary>
public sealed record GetChildren2Response(IReadOnlyList<string> Children, Stat Stat) : IResponseRecord<GetChildren2Response>
{
    public static GetChildren2Response Read(ref JuteReader reader)
    {
        var response = new GetChildren2Response(reader.ReadStringVector() ?? [], Stat.Read(ref reader));
        reader.EnsureEnd(nameof(GetChildren2Response));
        return response;
    }
}

/// <summary>getACL: vector&lt;ACL&gt; acl, Stat stat.</summary>
public sealed record GetAclResponse(IReadOnlyList<Acl> Acl, Stat Stat) : IResponseRecord<GetAclResponse>
{
    public static GetAclResponse Read(ref JuteReader reader)
    {
        var response = new GetAclResponse(Protocol.Acl.ReadVector(ref reader) ?? [], Stat.Read(ref reader));
        reader.EnsureEnd(nameof(GetAclResponse));
        return response;
    }
}

/// <summary>sync: ustring path.</summary>
public sealed record SyncResponse(string Path) : IResponseRecord<SyncResponse>
{
    public static SyncResponse Read(ref JuteReader reader)
    {
        var response = new SyncResponse(reader.ReadRequiredString("path"));
        reader.EnsureEnd(nameof(SyncResponse));
        return response;
    }
}

/// <summary>multi: a result behind a MultiHeader per op, then the terminator. Failed transactions have every result of type -1.</summary>
public sealed record MultiResponse(IReadOnlyList<OpResult> Results) : IResponseRecord<MultiResponse>
{
    public static MultiResponse Read(ref JuteReader reader)
    {
        var results = new List<OpResult>();
        while (true)
        {
            var header = MultiHeader.Read(ref reader);
            if (header.Done)
            {
                break;
            }

            if (results.Count > 100_000)
            {
                throw new ZooKeeperProtocolException("A multi reply has no terminator within 100000 results.");
            }

            results.Add(header.Type switch
            {
                OpCode.Create => new OpResult.Create(reader.ReadRequiredString("path"), null),
                OpCode.Create2 => new OpResult.Create(reader.ReadRequiredString("path"), Stat.Read(ref reader)),
                OpCode.Delete => new OpResult.Delete(),
                OpCode.Check => new OpResult.Check(),
                OpCode.SetData => new OpResult.SetData(Stat.Read(ref reader)),
                OpCode.Error => new OpResult.Failure((ErrorCode)reader.ReadInt()),
                _ => throw new ZooKeeperProtocolException($"A multi reply has a result of unexpected type {(int)header.Type}."),
            });
        }

        reader.EnsureEnd(nameof(MultiResponse));
        return new MultiResponse(results);
    }
}

/// <summary>The result of one op of a multi request.</summary>
public abstract record OpResult
{
    private OpResult()
    {
    }

    /// <summary>Path is the caller's (chroot removed); Stat is present for create2-type results.</summary>
    public sealed record Create(string Path, Stat? Stat) : OpResult;

    public sealed record Delete : OpResult;

    public sealed record Check : OpResult;

    public sealed record SetData(Stat Stat) : OpResult;

    /// <summary>Ok for ops before the failing one, its code for the failing one, RuntimeInconsistency after it.</summary>
    public sealed record Failure(ErrorCode Code) : OpResult;
}
