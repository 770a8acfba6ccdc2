package bench;

import javax.xml.bind.annotation.XmlAccessType;
import javax.xml.bind.annotation.XmlAccessorType;
import javax.xml.bind.annotation.XmlElement;
import javax.xml.bind.annotation.XmlRootElement;
import javax.xml.bind.annotation.XmlType;

/** The response wrapper: the byte count the receiver decoded. */
@XmlRootElement(name = "UploadResponse", namespace = Bench.NS)
@XmlAccessorType(XmlAccessType.FIELD)
@XmlType(name = "UploadResponse", namespace = Bench.NS)
public class UploadResponse {
    @XmlElement(name = "received", namespace = Bench.NS)
    public long _return;
}
