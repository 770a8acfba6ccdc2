package interop;

import javax.xml.bind.annotation.XmlAccessType;
import javax.xml.bind.annotation.XmlAccessorType;
import javax.xml.bind.annotation.XmlElement;
import javax.xml.bind.annotation.XmlType;

/** What the service computed while it read one attachment. */
@XmlAccessorType(XmlAccessType.FIELD)
@XmlType(name = "digest", namespace = Interop.NS,
        propOrder = {"name", "size", "sha256", "streaming"})
public class Digest {
    @XmlElement(name = "name", namespace = "")
    public String name;
    @XmlElement(name = "size", namespace = "")
    public long size;
    @XmlElement(name = "sha256", namespace = "")
    public String sha256;
    /** True when Metro handed the data over as a StreamingDataHandler read once. */
    @XmlElement(name = "streaming", namespace = "")
    public boolean streaming;
}
